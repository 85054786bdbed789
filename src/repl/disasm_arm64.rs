//! `disassemble` on arm64: yaxpeax-arm's A64 decoder (pure Rust, maintained), its own
//! text (`ldr x1, [x28, #0x10]`), with PC-relative branch operands rewritten to the
//! absolute target, named `$pkg.Func` when it is a function entry (as for amd64).

use super::disasm::Insn;
use std::collections::HashMap;
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand};

/// Where the instruction's PC-relative operand points (ADRP: a 4 KiB page).
fn target(ins: &Instruction, at: u64) -> Option<u64> {
    ins.operands.iter().find_map(|o| match o {
        Operand::PCOffset(off) if ins.opcode == Opcode::ADRP => {
            Some((at & !0xfff).wrapping_add(*off as u64))
        }
        Operand::PCOffset(off) => Some(at.wrapping_add(*off as u64)),
        _ => None,
    })
}

fn decode_one(word: &[u8]) -> Option<Instruction> {
    let mut reader = U8Reader::new(word);
    InstDecoder::default().decode(&mut reader).ok()
}

/// Targets of the direct branches in `code` (at `pc`), for symbol lookup.
pub fn branch_targets(code: &[u8], pc: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for (i, w) in code.chunks_exact(4).enumerate() {
        let at = pc.wrapping_add(4 * i as u64);
        if let Some(ins) = decode_one(w) {
            if ins.opcode != Opcode::ADRP && ins.opcode != Opcode::ADR {
                out.extend(target(&ins, at));
            }
        }
    }
    out
}

/// Decode `code` at `pc`, 4 bytes an instruction; undecodable words come out as `?`.
pub fn decode(code: &[u8], pc: u64, names: &HashMap<u64, String>) -> Vec<Insn> {
    let mut out = Vec::new();
    for (i, w) in code.chunks_exact(4).enumerate() {
        let at = pc.wrapping_add(4 * i as u64);
        let text = match decode_one(w) {
            Some(ins) => {
                let mut text = ins.to_string();
                if let Some(to) = target(&ins, at) {
                    // The decoder prints `$+0x10`: show where it goes instead.
                    if let Some(p) = text.find("$+").or_else(|| text.find("$-")) {
                        let end = text[p + 2..]
                            .find(|c: char| !c.is_ascii_hexdigit() && c != 'x')
                            .map_or(text.len(), |e| p + 2 + e);
                        let shown = match names.get(&to) {
                            Some(n) => format!("${n}"),
                            None => format!("{to:#x}"),
                        };
                        text.replace_range(p..end, &shown);
                    }
                }
                text
            }
            None => "?".to_string(),
        };
        out.push(Insn {
            pc: at,
            bytes: w.to_vec(),
            text,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_names_branches() {
        // orr w20, w20, #0x4 ; bl +0x100 ; adrp x1, +1 page ; garbage
        let mut code = vec![0x94, 0x02, 0x1e, 0x32];
        code.extend(0x9400_0040u32.to_le_bytes());
        code.extend(0xb000_0001u32.to_le_bytes());
        code.extend(0x0000_0000u32.to_le_bytes());
        let mut names = HashMap::new();
        names.insert(0x1104, "runtime.morestack".to_string());
        let v = decode(&code, 0x1000, &names);
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].text, "orr w20, w20, #0x4");
        assert_eq!(v[1].text, "bl $runtime.morestack");
        assert_eq!(v[1].pc, 0x1004);
        assert!(v[2].text.starts_with("adrp x1, 0x2000"), "{}", v[2].text);
        assert_eq!(branch_targets(&code, 0x1000), vec![0x1104]);
        assert_eq!(decode(&[1, 2, 3], 0, &names).len(), 0);
    }
}
