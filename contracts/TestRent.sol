// SPDX-License-Identifier: MIT
// A stand-in for the Rent contract the current original node reads
// (Chain.RentContract), used only by tests: isRented answers what the test
// set with setRented, and setFailing makes it revert (a rent read failing).
pragma solidity 0.8.26;

contract TestRent {
    mapping(string => bool) private rented;
    bool public failing;

    function isRented(string calldata machineId) external view returns (bool) {
        require(!failing, "rent contract failing");
        return rented[machineId];
    }

    function setRented(string calldata machineId, bool value) external {
        rented[machineId] = value;
    }

    function setFailing(bool value) external {
        failing = value;
    }
}
