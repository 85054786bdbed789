//! `disassemble`: iced-x86 decoding, formatted in Intel (Delve's default), GNU (AT&T)
//! or a Go/Plan 9-like syntax, laid out with Delve's tabwriter columns.

use super::parse::Flavor;
use iced_x86::{
    Decoder, DecoderOptions, Formatter, FormatterOutput, FormatterTextKind, GasFormatter,
    Instruction, IntelFormatter, MemorySizeOptions, Mnemonic, SymbolResolver, SymbolResult,
};
use std::collections::HashMap;

/// One decoded instruction, before layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insn {
    pub pc: u64,
    pub bytes: Vec<u8>,
    pub text: String,
}

/// Names for branch targets that are function entries (Delve prints `call $runtime.mcall`).
struct Names(HashMap<u64, String>);

impl SymbolResolver for Names {
    fn symbol(
        &mut self,
        _instruction: &Instruction,
        _operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        self.0
            .get(&address)
            .map(|n| SymbolResult::with_string(address, format!("${n}")))
    }
}

struct Text(String);
impl FormatterOutput for Text {
    fn write(&mut self, text: &str, _kind: FormatterTextKind) {
        self.0.push_str(text);
    }
}

fn configure(f: &mut dyn Formatter) {
    let o = f.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_small_hex_numbers_in_decimal(false);
    o.set_show_branch_size(false);
    o.set_rip_relative_addresses(true);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    // Delve (Go's x86asm) always names the operand size: `mov qword ptr [rsp+0x8], rbp`.
    o.set_memory_size_options(MemorySizeOptions::Always);
}

/// Near branch targets of the instructions in `code`, for symbol lookup.
pub fn branch_targets(code: &[u8], pc: u64) -> Vec<u64> {
    let mut d = Decoder::with_ip(64, code, pc, DecoderOptions::NONE);
    let mut out = Vec::new();
    let mut ins = Instruction::default();
    while d.can_decode() {
        d.decode_out(&mut ins);
        let t = ins.near_branch_target();
        if t != 0 {
            out.push(t);
        }
    }
    out
}

/// Plan 9-flavoured rewrite of AT&T text: upper-case mnemonic and registers, no `%`.
fn goish(gas: &str) -> String {
    let (mn, ops) = gas.split_once(' ').unwrap_or((gas, ""));
    let ops = ops.trim();
    let mut out = mn.to_uppercase();
    if !ops.is_empty() {
        out.push(' ');
        let mut chars = ops.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '%' {
                let mut reg = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() {
                        reg.push(n.to_ascii_uppercase());
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push_str(&reg);
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// Decode `code` (located at `pc`) into instructions; `names` maps function entries
/// to names for branch operands. Undecodable bytes come out as `?`, one byte each.
pub fn decode(code: &[u8], pc: u64, flavor: Flavor, names: HashMap<u64, String>) -> Vec<Insn> {
    let mut formatter: Box<dyn Formatter> = match flavor {
        Flavor::Intel => Box::new(IntelFormatter::with_options(
            Some(Box::new(Names(names))),
            None,
        )),
        Flavor::Gnu | Flavor::Go => Box::new(GasFormatter::with_options(
            Some(Box::new(Names(names))),
            None,
        )),
    };
    configure(formatter.as_mut());
    let mut d = Decoder::with_ip(64, code, pc, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    let mut out = Vec::new();
    while d.can_decode() {
        let off = d.position();
        d.decode_out(&mut ins);
        let len = ins.len().max(1);
        let bytes = code
            .get(off..off.saturating_add(len))
            .unwrap_or_default()
            .to_vec();
        let text = if ins.is_invalid() {
            "?".to_string()
        } else {
            let mut t = Text(String::new());
            formatter.format(&ins, &mut t);
            match flavor {
                Flavor::Go => goish(&t.0),
                // Go's x86asm writes `lea rax, ptr [...]`; scripts diff against Delve.
                Flavor::Intel if ins.mnemonic() == Mnemonic::Lea => {
                    t.0.replacen(", [", ", ptr [", 1)
                }
                _ => t.0,
            }
        };
        out.push(Insn {
            pc: ins.ip(),
            bytes,
            text,
        });
        if ins.is_invalid() && d.position() == off {
            // Decoder did not advance; skip a byte rather than loop.
            if d.set_position(off + 1).is_err() {
                break;
            }
        }
    }
    out
}

pub fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // main.crash from tests/delve-transcripts (Go 1.19 -N -l), Delve's Intel rendering.
    const CRASH: &[u8] = &[
        0x48, 0x83, 0xec, 0x10, 0x48, 0x89, 0x6c, 0x24, 0x08, 0x48, 0x8d, 0x6c, 0x24, 0x08, 0x84,
        0x01, 0xc3,
    ];

    #[test]
    fn intel_like_delve() {
        let v = decode(CRASH, 0x49cf80, Flavor::Intel, HashMap::new());
        let texts: Vec<&str> = v.iter().map(|i| i.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "sub rsp, 0x10",
                "mov qword ptr [rsp+0x8], rbp",
                "lea rbp, ptr [rsp+0x8]",
                "test byte ptr [rcx], al",
                "ret"
            ]
        );
        assert_eq!(v[1].pc, 0x49cf84);
        assert_eq!(hex_bytes(&v[1].bytes), "48896c2408");
    }

    #[test]
    fn calls_name_function_entries() {
        // call rel32 at 0x49cde0 to 0x405ae0 (runtime.chanrecv1 in the transcript).
        let code = [0xe8, 0xfb, 0x8c, 0xf6, 0xff];
        let mut names = HashMap::new();
        names.insert(0x405ae0, "runtime.chanrecv1".to_string());
        assert_eq!(branch_targets(&code, 0x49cde0), vec![0x405ae0]);
        let v = decode(&code, 0x49cde0, Flavor::Intel, names.clone());
        assert_eq!(v[0].text, "call $runtime.chanrecv1");
        let v = decode(&code, 0x49cde0, Flavor::Intel, HashMap::new());
        assert_eq!(v[0].text, "call 0x405ae0");
        let v = decode(&code, 0x49cde0, Flavor::Go, names);
        assert_eq!(v[0].text, "CALL $runtime.chanrecv1");
    }

    #[test]
    fn gnu_and_go() {
        let v = decode(&CRASH[..4], 0x49cf80, Flavor::Gnu, HashMap::new());
        assert_eq!(v[0].text, "sub $0x10, %rsp");
        let v = decode(&CRASH[..4], 0x49cf80, Flavor::Go, HashMap::new());
        assert_eq!(v[0].text, "SUB $0x10, RSP");
    }

    #[test]
    fn garbage_does_not_panic() {
        let v = decode(&[0x48], 0x1000, Flavor::Intel, HashMap::new());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].text, "?");
        let v = decode(
            &[0x0f, 0xff, 0xff, 0xff],
            0x1000,
            Flavor::Intel,
            HashMap::new(),
        );
        assert!(!v.is_empty());
    }
}
