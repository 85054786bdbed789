//! `disassemble`: iced-x86 decoding, formatted in Intel (Delve's default), GNU (AT&T)
//! or a Go/Plan 9-like syntax, laid out with Delve's tabwriter columns.

use super::parse::Flavor;
use iced_x86::{
    Code, Decoder, DecoderOptions, Formatter, FormatterOutput, FormatterTextKind, GasFormatter,
    Instruction, IntelFormatter, MemorySizeOptions, Mnemonic, SymbolResolver, SymbolResult,
};
use std::collections::HashMap;
use std::rc::Rc;

/// One decoded instruction, before layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insn {
    pub pc: u64,
    pub bytes: Vec<u8>,
    pub text: String,
}

/// Names of operand addresses: branch targets that are function entries (Delve 1.27
/// prints `call runtime.mcall`; AT&T keeps 1.20's `$`), RIP-relative memory inside a
/// symbol (`[runtime.writeBarrier]`, `[type:int+8]`).
struct Names {
    names: Rc<HashMap<u64, String>>,
    dollar: bool,
}

impl SymbolResolver for Names {
    fn symbol(
        &mut self,
        _instruction: &Instruction,
        _operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<SymbolResult<'_>> {
        let n = self.names.get(&address)?;
        Some(SymbolResult::with_string(
            address,
            if self.dollar && !n.contains('+') {
                format!("${n}")
            } else {
                n.clone()
            },
        ))
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

/// Go's x86asm condition-code spellings (Delve's Intel syntax): `jnz`, `jz`, `jnb`,
/// `jnbe`, `jnl`, `jnle`, the same for `set` and `cmov`.
fn x86asm_conditions(f: &mut dyn Formatter) {
    use iced_x86::{CC_a, CC_ae, CC_e, CC_g, CC_ge, CC_ne};
    let o = f.options_mut();
    o.set_cc_ne(CC_ne::nz);
    o.set_cc_e(CC_e::z);
    o.set_cc_ae(CC_ae::nb);
    o.set_cc_a(CC_a::nbe);
    o.set_cc_ge(CC_ge::nl);
    o.set_cc_g(CC_g::nle);
}

/// The names Delve gives operands of `code` (at `pc`): branch targets that are a
/// function's entry, by `func_entry`; RIP-relative memory operands inside a symbol,
/// by `symbol_at` (name and start), as `name` or `name+N`.
pub fn operand_names(
    code: &[u8],
    pc: u64,
    func_entry: &dyn Fn(u64) -> Option<String>,
    symbol_at: &dyn Fn(u64) -> Option<(String, u64)>,
) -> HashMap<u64, String> {
    let mut names = HashMap::new();
    let mut d = Decoder::with_ip(64, code, pc, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    while d.can_decode() {
        d.decode_out(&mut ins);
        let t = ins.near_branch_target();
        if t != 0 {
            if let Some(n) = func_entry(t) {
                names.insert(t, n);
            }
        }
        if ins.is_ip_rel_memory_operand() {
            let a = ins.ip_rel_memory_address();
            if let Some((n, base)) = symbol_at(a) {
                let off = a.wrapping_sub(base) as i64;
                names.insert(a, if off == 0 { n } else { format!("{n}{off:+}") });
            }
        }
    }
    names
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

/// Decode `code` (located at `pc`) into instructions; `names` names operand addresses
/// ([`operand_names`]). Undecodable bytes come out as `?`, one byte each.
pub fn decode(code: &[u8], pc: u64, flavor: Flavor, names: HashMap<u64, String>) -> Vec<Insn> {
    // Shared with the resolver: the Intel rewrite below asks which operands it named.
    let names = Rc::new(names);
    let resolver = |dollar: bool| {
        Some(Box::new(Names {
            names: Rc::clone(&names),
            dollar,
        }) as Box<dyn SymbolResolver>)
    };
    let mut formatter: Box<dyn Formatter> = match flavor {
        Flavor::Intel => Box::new(IntelFormatter::with_options(resolver(false), None)),
        Flavor::Gnu | Flavor::Go => Box::new(GasFormatter::with_options(resolver(true), None)),
    };
    configure(formatter.as_mut());
    if flavor == Flavor::Intel {
        x86asm_conditions(formatter.as_mut());
    }
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
                // x86asm names a RIP-relative operand by its symbol alone: `[sym+N]`.
                Flavor::Intel
                    if ins.is_ip_rel_memory_operand()
                        && names.contains_key(&ins.ip_rel_memory_address()) =>
                {
                    let t = t.0.replacen("[rip+", "[", 1);
                    if ins.mnemonic() == Mnemonic::Lea {
                        t.replacen(", [", ", ptr [", 1)
                    } else {
                        t
                    }
                }
                // Go's x86asm writes `lea rax, ptr [...]`; scripts diff against Delve.
                Flavor::Intel if ins.mnemonic() == Mnemonic::Lea => {
                    t.0.replacen(", [", ", ptr [", 1)
                }
                // x86asm writes the multi-byte NOP's (0F 1F /0) register operand.
                Flavor::Intel
                    if matches!(ins.code(), Code::Nop_rm16 | Code::Nop_rm32 | Code::Nop_rm64) =>
                {
                    let reg = if ins.code() == Code::Nop_rm16 {
                        "ax"
                    } else {
                        "eax"
                    };
                    format!("{}, {reg}", t.0)
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
        let entry = |a: u64| (a == 0x405ae0).then(|| "runtime.chanrecv1".to_string());
        assert_eq!(operand_names(&code, 0x49cde0, &entry, &|_| None), names);
        let v = decode(&code, 0x49cde0, Flavor::Intel, names.clone());
        // Delve 1.27 (1.20 printed `call $runtime.chanrecv1`).
        assert_eq!(v[0].text, "call runtime.chanrecv1");
        let v = decode(&code, 0x49cde0, Flavor::Intel, HashMap::new());
        assert_eq!(v[0].text, "call 0x405ae0");
        let v = decode(&code, 0x49cde0, Flavor::Go, names);
        assert_eq!(v[0].text, "CALL $runtime.chanrecv1");
    }

    /// Go's x86asm spellings, as Delve 1.27.1 prints them (pool and step fixtures).
    #[test]
    fn conditions_nops_and_memory_symbols_as_x86asm() {
        let text = |code: &[u8], names: HashMap<u64, String>| {
            decode(code, 0x1000, Flavor::Intel, names)
                .first()
                .map(|i| i.text.clone())
                .unwrap_or_default()
        };
        assert_eq!(text(&[0x75, 0x02], HashMap::new()), "jnz 0x1004");
        assert_eq!(text(&[0x74, 0x02], HashMap::new()), "jz 0x1004");
        assert_eq!(text(&[0x73, 0x02], HashMap::new()), "jnb 0x1004");
        assert_eq!(text(&[0x77, 0x02], HashMap::new()), "jnbe 0x1004");
        assert_eq!(text(&[0x0f, 0x95, 0xc0], HashMap::new()), "setnz al");
        assert_eq!(
            text(&[0x66, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0], HashMap::new()),
            "nop word ptr [rax+rax], ax"
        );
        assert_eq!(
            text(&[0x0f, 0x1f, 0x44, 0, 0], HashMap::new()),
            "nop dword ptr [rax+rax], eax"
        );
        assert_eq!(text(&[0x90], HashMap::new()), "nop");
        // mov rax, [rip+0x10]: 0x1017, inside a symbol starting at 0x1010.
        let code = [0x48, 0x8b, 0x05, 0x10, 0, 0, 0];
        let none = |_: u64| None;
        let inside = |a: u64| {
            (0x1010..0x1020)
                .contains(&a)
                .then(|| ("runtime.x".into(), 0x1010))
        };
        let names = operand_names(&code, 0x1000, &none, &inside);
        assert_eq!(text(&code, names), "mov rax, qword ptr [runtime.x+7]");
        let at = |a: u64| (a == 0x1017).then(|| ("runtime.writeBarrier".into(), 0x1017));
        let names = operand_names(&code, 0x1000, &none, &at);
        assert_eq!(
            text(&code, names),
            "mov rax, qword ptr [runtime.writeBarrier]"
        );
        // No symbol there: x86asm's `[rip+N]`.
        assert_eq!(text(&code, HashMap::new()), "mov rax, qword ptr [rip+0x10]");
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
