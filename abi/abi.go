// Package abi holds the contract ABIs ddn calls (report: report and
// getMachineState; machine info: setMachineInfo and setBandWidthInfos),
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
