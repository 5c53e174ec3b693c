// Compiles the test contracts (TestRegistry.sol, TestRent.sol,
// TestFreeRental.sol) with the solc npm package pinned in package.json and
// writes the ABI and bytecode of each that the Go tests load. Deterministic: the
// same solc version and settings always give the same bytes (no metadata hash).
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const want = require("./package.json").dependencies.solc;
if (!solc.version().startsWith(want + "+")) {
  console.error(`solc ${solc.version()} found, ${want} pinned`);
  process.exit(1);
}
const names = ["TestRegistry", "TestRent", "TestFreeRental"];
const sources = {};
for (const n of names) {
  sources[n + ".sol"] = { content: fs.readFileSync(path.join(__dirname, n + ".sol"), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "paris",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length > 0) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const dir = process.argv[2] || path.join(__dirname, "..", "adapters", "chain", "testdata");
fs.mkdirSync(dir, { recursive: true });
for (const n of names) {
  const c = out.contracts[n + ".sol"][n];
  fs.writeFileSync(path.join(dir, n + ".abi"), JSON.stringify(c.abi, null, 1) + "\n");
  fs.writeFileSync(path.join(dir, n + ".bin"), c.evm.bytecode.object + "\n");
}
console.log(`compiled with solc ${solc.version()} into ${dir}`);
