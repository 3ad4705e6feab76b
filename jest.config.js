/** @type {import("jest").Config} */
module.exports = {
    testEnvironment: "node",
    roots: ["<rootDir>/tests"],
    // ts-jest transpiles only (tsconfig has isolatedModules); `npm run typecheck` checks types.
    transform: { "^.+\\.ts$": "ts-jest" },
    // The end-to-end synth tests start real worker processes.
    testTimeout: 120000,
};
