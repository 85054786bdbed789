//! Go maps, both layouts, iterated lazily in Delve's order: classic buckets (before Go
//! 1.24; growing maps read through their old buckets) and swiss tables (Go 1.24+:
//! directory of tables, groups of 8 slots, control bytes).

use super::{Loader, MAX_MAP_VISITS};
use crate::symbols::dwarf::TypeId;
use crate::vars::{LoadConfig, Var};

/// tophash values below this mark empty or evacuated slots (runtime.minTopHash).
const MIN_TOP_HASH: u8 = 5;
/// Slots per bucket or group.
const SLOTS: u64 = 8;

/// Load `v` (a map variable) into key/value children, at most max-array-values pairs.
pub fn load_map(
    l: &Loader<'_>,
    v: &mut Var,
    ty: TypeId,
    level: i64,
    cfg: &LoadConfig,
) -> Result<(), String> {
    let hp = l.read_ptr(v.addr)?;
    v.base = hp;
    if hp == 0 {
        return Ok(());
    }
    let hdr_ptr = l.dwarf.resolve(ty).ok_or("map type unreadable")?;
    let hdr = l.pointee(hdr_ptr).ok_or("map without header type")?;
    let count_field = if l.swiss { "used" } else { "count" };
    let (co, _) = l
        .member(hdr, count_field)
        .ok_or("map header without count")?;
    v.len = l.read_ptr(hp.wrapping_add(co))? as i64;
    if level > cfg.max_variable_recurse || v.len <= 0 || cfg.max_array_values <= 0 {
        return Ok(());
    }
    let want = v.len.min(cfg.max_array_values) as usize;
    let mut slots: Vec<(u64, TypeId, u64, TypeId)> = Vec::new();
    if l.swiss {
        swiss_slots(l, hp, hdr, want, &mut slots)?;
    } else {
        bucket_slots(l, hp, hdr, want, &mut slots)?;
    }
    for (ka, kt, va, vt) in slots {
        let mut k = l.var_at("", ka, kt);
        let mut val = l.var_at("", va, vt);
        l.load(&mut k, level + 1, cfg);
        l.load(&mut val, level + 1, cfg);
        v.children.push(k);
        v.children.push(val);
    }
    Ok(())
}

/// Key and value types of a bucket/slot struct, with indirect (pointer) storage
/// followed: the runtime stores keys or values over 128 bytes by pointer.
fn kv(l: &Loader<'_>, st: TypeId, k: &str, v: &str) -> Option<(u64, TypeId, u64, TypeId)> {
    let (ko, kt) = l.member(st, k)?;
    let (vo, vt) = l.member(st, v)?;
    Some((ko, kt, vo, vt))
}

fn bucket_slots(
    l: &Loader<'_>,
    hp: u64,
    hdr: TypeId,
    want: usize,
    out: &mut Vec<(u64, TypeId, u64, TypeId)>,
) -> Result<(), String> {
    let b = l
        .member(hdr, "B")
        .map(|(o, _)| l.read_uint(hp.wrapping_add(o), 1))
        .transpose()?
        .unwrap_or(0);
    if b > 62 {
        return Err(format!("map with B={b}"));
    }
    let (bo, bt) = l
        .member(hdr, "buckets")
        .ok_or("map header without buckets")?;
    let bucket = l.pointee(bt).ok_or("bucket type unknown")?;
    let bsize = l.size(bucket);
    let buckets = l.read_ptr(hp.wrapping_add(bo))?;
    let old = l
        .member(hdr, "oldbuckets")
        .map(|(o, _)| l.read_ptr(hp.wrapping_add(o)))
        .transpose()?
        .unwrap_or(0);
    let nb = 1u64 << b;
    let (to, _) = l
        .member(bucket, "tophash")
        .ok_or("bucket without tophash")?;
    let (ko, kat) = l.member(bucket, "keys").ok_or("bucket without keys")?;
    let (vo, vat) = l.member(bucket, "values").ok_or("bucket without values")?;
    let (oo, _) = l
        .member(bucket, "overflow")
        .ok_or("bucket without overflow")?;
    let kt = l.array_info(kat).1.ok_or("key type unknown")?;
    let vt = l.array_info(vat).1.ok_or("value type unknown")?;
    let (ks, vs) = (l.size(kt), l.size(vt));
    // Old bucket count: half when growing to double size, same when same-size growing.
    let oldnb = if old != 0 {
        let flags = l
            .member(hdr, "flags")
            .map(|(o, _)| l.read_uint(hp.wrapping_add(o), 1))
            .transpose()?
            .unwrap_or(0);
        if flags & 8 != 0 {
            nb
        } else {
            (nb / 2).max(1)
        }
    } else {
        0
    };
    let mut visits = 0u64;
    for bidx in 0..nb {
        let mut cur = buckets.wrapping_add(bidx.wrapping_mul(bsize));
        if old != 0 {
            let oldidx = bidx & (oldnb - 1);
            let ob = old.wrapping_add(oldidx.wrapping_mul(bsize));
            let top0 = l.read_uint(ob.wrapping_add(to), 1)? as u8;
            let evacuated = top0 > 1 && top0 < MIN_TOP_HASH;
            if !evacuated {
                if oldidx != bidx {
                    // Its old bucket was (or will be) shown with the first half.
                    continue;
                }
                cur = ob;
            }
        }
        while cur != 0 {
            visits += 1;
            if visits > MAX_MAP_VISITS {
                return Err("map iteration did not terminate (corrupt buckets?)".into());
            }
            for i in 0..SLOTS {
                let th = l.read_uint(cur.wrapping_add(to).wrapping_add(i), 1)? as u8;
                if th < MIN_TOP_HASH {
                    continue;
                }
                out.push((
                    cur.wrapping_add(ko).wrapping_add(i.wrapping_mul(ks)),
                    kt,
                    cur.wrapping_add(vo).wrapping_add(i.wrapping_mul(vs)),
                    vt,
                ));
                if out.len() >= want {
                    return Ok(());
                }
            }
            cur = l.read_ptr(cur.wrapping_add(oo))?;
        }
    }
    Ok(())
}

fn swiss_slots(
    l: &Loader<'_>,
    hp: u64,
    hdr: TypeId,
    want: usize,
    out: &mut Vec<(u64, TypeId, u64, TypeId)>,
) -> Result<(), String> {
    let (dpo, dpt) = l.member(hdr, "dirPtr").ok_or("map without dirPtr")?;
    let (dlo, _) = l.member(hdr, "dirLen").ok_or("map without dirLen")?;
    let dir = l.read_ptr(hp.wrapping_add(dpo))?;
    let dirlen = l.read_ptr(hp.wrapping_add(dlo))?;
    let table = l
        .pointee(dpt)
        .and_then(|p| l.pointee(p))
        .ok_or("map table type unknown")?;
    let (go, gt) = l.member(table, "groups").ok_or("table without groups")?;
    let (gdo, gdt) = l.member(gt, "data").ok_or("groups without data")?;
    let (gmo, _) = l
        .member(gt, "lengthMask")
        .ok_or("groups without lengthMask")?;
    let group = l.pointee(gdt).ok_or("group type unknown")?;
    let gsize = l.size(group);
    let (cto, _) = l.member(group, "ctrl").ok_or("group without ctrl")?;
    let (so, sat) = l.member(group, "slots").ok_or("group without slots")?;
    let slot = l.array_info(sat).1.ok_or("slot type unknown")?;
    let ssize = l.size(slot);
    let (ko, kt, vo, vt) = kv(l, slot, "key", "elem").ok_or("slot without key/elem")?;
    let visit_group = |g: u64, out: &mut Vec<_>| -> Result<bool, String> {
        let ctrl = l.read_uint(g.wrapping_add(cto), 8)?;
        for i in 0..SLOTS {
            if (ctrl >> (8 * i)) & 0x80 != 0 {
                continue; // empty or deleted
            }
            let s = g.wrapping_add(so).wrapping_add(i.wrapping_mul(ssize));
            out.push((s.wrapping_add(ko), kt, s.wrapping_add(vo), vt));
            if out.len() >= want {
                return Ok(true);
            }
        }
        Ok(false)
    };
    if dirlen == 0 {
        visit_group(dir, out)?;
        return Ok(());
    }
    let mut last = 0u64;
    let mut visits = 0u64;
    for i in 0..dirlen.min(1 << 20) {
        let t = l.read_ptr(dir.wrapping_add(i.wrapping_mul(8)))?;
        if t == 0 || t == last {
            continue;
        }
        last = t;
        let data = l.read_ptr(t.wrapping_add(go).wrapping_add(gdo))?;
        let mask = l.read_ptr(t.wrapping_add(go).wrapping_add(gmo))?;
        for gi in 0..=mask.min(1 << 24) {
            visits += 1;
            if visits > MAX_MAP_VISITS {
                return Err("map iteration did not terminate (corrupt tables?)".into());
            }
            if visit_group(data.wrapping_add(gi.wrapping_mul(gsize)), out)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
