// Reference peer for tokenizer tests (tiktoken_test.go): reads one JSON request on
// stdin and writes one JSON answer on stdout.
//
//   request: {"encode": [text, ...], "classify": [codepoint, ...], "decode": [[byte, ...], ...]}
//   answer:  {"encode": [[id, ...], ...], "classify": ["L"|"N"|"S"|"O", ...], "decode": [text, ...]}
//
// encode uses js-tiktoken's r50k_base with every special token allowed, so a literal
// "<|endoftext|>" becomes 50256 as in Hugging Face. classify reports how the
// JavaScript regex engine classifies a code point for \p{L}, \p{N} and \s. decode is
// the WHATWG TextDecoder (non-fatal), which replaces each maximal invalid UTF-8
// subpart with one U+FFFD, as Python does.
//
// usage: node tiktoken.mjs <path of node_modules/js-tiktoken>
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const moduleDir = process.argv[2];
const { getEncoding } = await import(pathToFileURL(join(moduleDir, "dist", "index.js")).href);
const request = JSON.parse(readFileSync(0, "utf8"));
const answer = {};

if (request.encode) {
  const enc = getEncoding("r50k_base");
  answer.encode = request.encode.map((text) => enc.encode(text, "all"));
}
if (request.classify) {
  answer.classify = request.classify.map((cp) => {
    const ch = String.fromCodePoint(cp);
    if (/^\p{L}$/u.test(ch)) return "L";
    if (/^\p{N}$/u.test(ch)) return "N";
    if (/^\s$/u.test(ch)) return "S";
    return "O";
  });
}
if (request.decode) {
  const dec = new TextDecoder("utf-8");
  answer.decode = request.decode.map((bytes) => dec.decode(Uint8Array.from(bytes)));
}
process.stdout.write(JSON.stringify(answer));
