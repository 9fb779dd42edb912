export function main() { return "hello"; }
