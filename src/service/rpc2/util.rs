//! Helpers for the methods: goroutine filters and grouping as Delve's server does
//! them, and the two encodings Go's JSON gives `[]byte` and `time.Time`.

use super::types as api;
use super::types::{GoroutineFilter, GoroutineGroup, ListGoroutinesIn};

/// Delve's goroutine filters (`goroutines -w KIND ARG`): substring matches on the
/// formatted locations, running, user, label.
pub fn filter_matches(
    f: &GoroutineFilter,
    ag: &api::Goroutine,
    g: &crate::goruntime::Goroutine,
) -> bool {
    let loc_has = |l: &api::Location| {
        // Delve's formatLoc.
        let name = l
            .function
            .as_ref()
            .map_or("?", |f| f.name.as_str())
            .to_string();
        format!("{}:{} in {}", l.file, l.line, name).contains(&f.arg)
    };
    let m = match f.kind {
        1 => loc_has(&ag.current_loc),
        2 => loc_has(&ag.user_current_loc),
        3 => loc_has(&ag.go_statement_loc),
        4 => loc_has(&ag.start_loc),
        5 => match f.arg.split_once('=') {
            Some((k, v)) => ag.labels.get(k).is_some_and(|x| x == v),
            None => ag.labels.contains_key(&f.arg),
        },
        6 => ag.thread_id != 0,
        7 => !g.system,
        _ => true,
    };
    m != f.negated
}

/// Delve's GroupGoroutines: one group per key (a location as `file:line in fn`, a
/// label, `running=`, `user=`), keys sorted, at most MaxGroupMembers goroutines kept
/// per group and MaxGroups groups. `system[i]` tells whether `gs[i]` is a runtime
/// goroutine (`-group user`).
pub fn group(
    gs: Vec<api::Goroutine>,
    system: &[bool],
    i: &ListGoroutinesIn,
) -> (Vec<api::Goroutine>, Vec<GoroutineGroup>, bool) {
    let key = |g: &api::Goroutine, sys: bool| -> String {
        let l = match i.group_by {
            1 => &g.current_loc,
            2 => &g.user_current_loc,
            3 => &g.go_statement_loc,
            4 => &g.start_loc,
            6 => return format!("running={}", g.thread_id != 0),
            7 => return format!("user={}", !sys),
            _ => {
                let v = g.labels.get(&i.group_by_key).map_or("", String::as_str);
                return format!("{}={v}", i.group_by_key);
            }
        };
        let name = l.function.as_ref().map_or("?", |f| f.name.as_str());
        format!("{}:{} in {}", l.file, l.line, name)
    };
    let members = usize::try_from(i.max_group_members).unwrap_or(0);
    let mut by_key: std::collections::BTreeMap<String, (Vec<api::Goroutine>, usize)> =
        Default::default();
    for (n, g) in gs.into_iter().enumerate() {
        let k = key(&g, system.get(n).copied().unwrap_or(false));
        let e = by_key.entry(k).or_default();
        if members == 0 || e.0.len() < members {
            e.0.push(g);
        }
        e.1 += 1;
    }
    let max_groups = usize::try_from(i.max_groups).unwrap_or(0);
    let too_many = max_groups > 0 && by_key.len() > max_groups;
    let mut out = Vec::new();
    let mut groups = Vec::new();
    for (name, (v, total)) in
        by_key
            .into_iter()
            .take(if too_many { max_groups } else { usize::MAX })
    {
        groups.push(GoroutineGroup {
            name,
            offset: out.len() as i64,
            count: v.len() as i64,
            total: total as i64,
        });
        out.extend(v);
    }
    (out, groups, too_many)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (days-to-civil, proleptic
/// Gregorian, as Go's time package computes it).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Standard base64 with padding, as Go's encoding/json writes []byte.
pub fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                s.push(char::from(T[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
    }
}
