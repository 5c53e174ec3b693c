// SPDX-License-Identifier: MIT
// A stand-in for the FreeRental contract the current original node calls
// (Chain.FreeRentalContract), used only by tests: machines and
// machineIsRented answer what the test set, notify records every call
// (notify(4) ends the machine's rental), setFailing makes the reads revert.
pragma solidity 0.8.26;

contract TestFreeRental {
    struct Machine {
        address owner;
        uint256 pricePerHourUSD;
        bool registered;
        bool enabled;
    }

    mapping(string => Machine) private entries;
    mapping(string => bool) private rented;
    mapping(string => uint256) public notifyCount;
    mapping(string => uint8) public lastNotifyType;
    uint256 public notifyCalls;
    bool public failing;

    event Notified(uint8 tp, string machineId);

    function machines(string calldata machineId)
        external
        view
        returns (address owner, uint256 pricePerHourUSD, bool registered, bool enabled)
    {
        require(!failing, "free rental contract failing");
        Machine storage m = entries[machineId];
        return (m.owner, m.pricePerHourUSD, m.registered, m.enabled);
    }

    function machineIsRented(string calldata machineId) external view returns (bool) {
        require(!failing, "free rental contract failing");
        return rented[machineId];
    }

    function notify(uint8 tp, string calldata machineId) external returns (bool) {
        notifyCount[machineId] += 1;
        lastNotifyType[machineId] = tp;
        notifyCalls += 1;
        if (tp == 4) {
            rented[machineId] = false;
        }
        emit Notified(tp, machineId);
        return true;
    }

    function register(string calldata machineId, uint256 pricePerHourUSD) external {
        entries[machineId] = Machine(msg.sender, pricePerHourUSD, true, true);
    }

    function setRented(string calldata machineId, bool value) external {
        rented[machineId] = value;
    }

    function setFailing(bool value) external {
        failing = value;
    }
}
