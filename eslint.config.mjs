// ESLint flat config: typescript-eslint's type-aware recommended rules, plus Pulumi's rules that
// catch Outputs interpolated into plain template strings.
import eslint from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "policy/node_modules/", "bin/", "dist/", "synth/", "coverage/", ".cache/"] },
    eslint.configs.recommended,
    {
        files: ["**/*.ts"],
        extends: [...tseslint.configs.recommendedTypeChecked],
        languageOptions: {
            // One program from tsconfig.json for every file (it includes them all): about a tenth less CPU than
            // the project service here.
            parserOptions: { project: "./tsconfig.json", tsconfigRootDir: import.meta.dirname },
        },
        plugins: { "@pulumi": pulumi },
        rules: {
            // Prettier formats (printWidth 140); long strings and template literals are left whole, as messages read best.
            "max-len": [
                "error",
                { code: 160, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
            ],
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
            "@typescript-eslint/consistent-type-imports": [
                "error",
                { prefer: "type-imports", fixStyle: "inline-type-imports", disallowTypeAnnotations: false },
            ],
        },
    },
    {
        // The replicator's files run in Node.js as they are (it strips the types, and only erasable TypeScript
        // can be stripped), import nothing but Node's built-ins and each other, by their .ts names.
        files: ["replicator/**/*.ts"],
        rules: {
            "@typescript-eslint/parameter-properties": ["error", { prefer: "class-property" }],
            "no-restricted-syntax": [
                "error",
                { selector: "TSEnumDeclaration", message: "Node.js cannot strip an enum: use a union of literals" },
                { selector: "TSModuleDeclaration[declare!=true]", message: "Node.js cannot strip a namespace" },
                { selector: "TSImportEqualsDeclaration", message: "Node.js cannot strip import =" },
                { selector: "TSExportAssignment", message: "Node.js cannot strip export =" },
                {
                    selector: "ImportDeclaration[source.value=/^(?!node:)(?!\\.\\/.*\\.ts$)/]",
                    message: "the replicator imports only node: built-ins and its own files by their .ts names",
                },
            ],
        },
    },
);
