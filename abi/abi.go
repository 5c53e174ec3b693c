// Package abi holds the contract ABIs ddn calls (report: report and
// getMachineState; machine info: setMachineInfo and setBandWidthInfos;
// rent: isRented; FreeRental: machines, machineIsRented and notify),
// written for this project and embedded so a node needs no ABI file unless
// the operator overrides one (Chain.*Contract.AbiFile).
package abi

import _ "embed"

// Report is the ABI JSON of the report contract's functions ddn calls.
//
//go:embed report.json
var Report []byte

// MachineInfo is the ABI JSON of the machine-info contract's functions ddn calls.
//
//go:embed machineinfo.json
var MachineInfo []byte

// Rent is the ABI JSON of the Rent contract's function ddn calls (isRented).
//
//go:embed rent.json
var Rent []byte

// FreeRental is the ABI JSON of the FreeRental contract's functions ddn calls.
//
//go:embed freerental.json
var FreeRental []byte
