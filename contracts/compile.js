// Compiles TestRegistry.sol with the solc npm package pinned in package.json
// and writes the ABI and bytecode that the Go tests load. Deterministic: the
// same solc version and settings always give the same bytes (no metadata hash).
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const want = require("./package.json").dependencies.solc;
if (!solc.version().startsWith(want + "+")) {
  console.error(`solc ${solc.version()} found, ${want} pinned`);
  process.exit(1);
}
const source = fs.readFileSync(path.join(__dirname, "TestRegistry.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "TestRegistry.sol": { content: source } },
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
const c = out.contracts["TestRegistry.sol"].TestRegistry;
const dir = process.argv[2] || path.join(__dirname, "..", "adapters", "chain", "testdata");
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, "TestRegistry.abi"), JSON.stringify(c.abi, null, 1) + "\n");
fs.writeFileSync(path.join(dir, "TestRegistry.bin"), c.evm.bytecode.object + "\n");
console.log(`compiled with solc ${solc.version()} into ${dir}`);
