/** Types of `js-hcl-parser` (HashiCorp's HCL v1 compiled to JavaScript), which ships none. */
declare module "js-hcl-parser" {
    /** The document as JSON text, or a message starting "unable to parse" when it does not parse. */
    export function parse(input: string): string;
}
