package chain

import (
	"bytes"
	"strings"
	"testing"

	gethabi "github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"

	"ddn/abi"
	"ddn/domain"
	"ddn/internal/parity"
)

// TestMachineInfoCalldataParity builds the setMachineInfo calldata of every
// scored parity case the way a node does (the report as converted by the
// score, domain.NewChainMachineInfo, this adapter's encoding) and compares
// it byte for byte with the calldata of the original's own arguments,
// including a negative score's two's complement and malformed wallets.
func TestMachineInfoCalldataParity(t *testing.T) {
	a, err := gethabi.JSON(bytes.NewReader(abi.MachineInfo))
	if err != nil {
		t.Fatal(err)
	}
	cases, err := parity.Score()
	if err != nil {
		t.Fatal(err)
	}
	key := domain.MachineKey{MachineID: parity.MachineID, Project: parity.Project, ContainerID: parity.ContainerID}
	checked := 0
	for _, pc := range cases {
		if pc.Chain == nil {
			continue
		}
		info := domain.ShortTermInfo{GPUNames: pc.GPUNames, GPUMemoryTotal: pc.GPUMemoryTotalAfter, MemoryTotal: pc.MemoryTotal,
			CPUType: pc.CPUType, CPURate: pc.CPURate, Wallet: pc.Wallet, CalcPoint: pc.CalcPoint,
			Latitude: float64(parity.Latitude), Longitude: float64(parity.Longitude), Region: parity.Region}
		got, err := packMachineInfo(a, key.MachineID, domain.NewChainMachineInfo(key, info))
		if err != nil {
			t.Fatalf("%s: %v", pc.ID, err)
		}
		c := pc.Chain
		want, err := a.Pack("setMachineInfo", c.ID, machineInfoTuple{
			MachineOwner: common.HexToAddress(c.MachineOwner), CalcPoint: c.CalcPoint, CpuRate: c.CPURate, GpuType: c.GPUType,
			GpuMem: c.GPUMem, CpuType: c.CPUType, GpuCount: c.GPUCount, MachineId: c.MachineID, Longitude: c.Longitude,
			Latitude: c.Latitude, MachineMem: c.MachineMem, Region: c.Region, Model: c.Model,
		})
		if err != nil {
			t.Fatalf("%s: pack the original's arguments: %v", pc.ID, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: calldata differs from the original's\n got tuple %+v", pc.ID, domain.NewChainMachineInfo(key, info))
		}
		if owner(pc.Wallet).Hex() != c.MachineOwner {
			t.Errorf("%s: owner %s, want %s", pc.ID, owner(pc.Wallet).Hex(), c.MachineOwner)
		}
		checked++
	}
	if checked < 500 {
		t.Fatalf("only %d scored cases checked", checked)
	}
}

// TestNegativeNumbersAreTwosComplement pins the encoding the original's
// encoder produced for a negative uint256 argument.
func TestNegativeNumbersAreTwosComplement(t *testing.T) {
	a, err := gethabi.JSON(bytes.NewReader(abi.MachineInfo))
	if err != nil {
		t.Fatal(err)
	}
	data, err := packMachineInfo(a, "m", domain.ChainMachineInfo{CalcPoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(common.Bytes2Hex(data), strings.Repeat("f", 64)) {
		t.Fatalf("calcPoint -1 is not 2^256-1 in the calldata: %x", data)
	}
}
