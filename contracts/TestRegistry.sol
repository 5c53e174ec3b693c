// SPDX-License-Identifier: MIT
// A stand-in for the report and machine-info contracts that ddn calls, used
// only by tests: it implements the four functions ddn calls and records every
// call so that tests can assert the exact arguments that arrived on chain.
pragma solidity 0.8.26;

contract TestRegistry {
    struct MachineInfo {
        address machineOwner;
        uint256 calcPoint;
        uint256 cpuRate;
        string gpuType;
        uint256 gpuMem;
        string cpuType;
        uint256 gpuCount;
        string machineId;
        string longitude;
        string latitude;
        uint256 machineMem;
        string region;
        string model;
    }

    struct BandWidthMintInfo {
        address machineOwner;
        string machineId;
        uint256 cpuCores;
        uint256 machineMem;
        string region;
        uint256 hdd;
        uint256 bandwidth;
    }

    struct Call {
        uint8 tp;
        string projectName;
        uint8 stakingType;
        string machineId;
        address sender;
    }

    mapping(bytes32 => bool) public registered;
    mapping(bytes32 => bool) public online;
    mapping(string => MachineInfo) private infos;
    mapping(string => BandWidthMintInfo) private bandwidths;
    Call[] private calls;
    uint256 public machineInfoCalls;
    uint256 public bandwidthCalls;

    event Reported(uint8 tp, string projectName, uint8 stakingType, string machineId);

    function key(string memory machineId, string memory projectName, uint8 stakingType) internal pure returns (bytes32) {
        return keccak256(abi.encode(machineId, projectName, stakingType));
    }

    // tp: 0 contract register, 1 machine register, 2 machine unregister,
    // 3 machine online, 4 machine offline.
    function report(uint8 tp, string calldata projectName, uint8 stakingType, string calldata machineId) external {
        bytes32 k = key(machineId, projectName, stakingType);
        if (tp == 0 || tp == 1) {
            registered[k] = true;
        } else if (tp == 2) {
            registered[k] = false;
            online[k] = false;
        } else if (tp == 3) {
            online[k] = true;
        } else if (tp == 4) {
            online[k] = false;
        } else {
            revert("unknown report type");
        }
        calls.push(Call(tp, projectName, stakingType, machineId, msg.sender));
        emit Reported(tp, projectName, stakingType, machineId);
    }

    // registerMany registers many machines in one transaction (tests that
    // need thousands of registered machines); no call is recorded.
    function registerMany(string[] calldata machineIds, string calldata projectName, uint8 stakingType) external {
        for (uint256 i = 0; i < machineIds.length; i++) {
            registered[key(machineIds[i], projectName, stakingType)] = true;
        }
    }

    function getMachineState(string calldata machineId, string calldata projectName, uint8 stakingType)
        external view returns (bool isOnline, bool isRegistered)
    {
        bytes32 k = key(machineId, projectName, stakingType);
        return (online[k], registered[k]);
    }

    function setMachineInfo(string calldata _Id, MachineInfo calldata _info) external {
        infos[_Id] = _info;
        machineInfoCalls++;
    }

    function setBandWidthInfos(string calldata _id, BandWidthMintInfo calldata _info) external {
        bandwidths[_id] = _info;
        bandwidthCalls++;
    }

    function callCount() external view returns (uint256) {
        return calls.length;
    }

    function callAt(uint256 i) external view returns (Call memory) {
        return calls[i];
    }

    function machineInfo(string calldata id) external view returns (MachineInfo memory) {
        return infos[id];
    }

    function bandwidthInfo(string calldata id) external view returns (BandWidthMintInfo memory) {
        return bandwidths[id];
    }
}
