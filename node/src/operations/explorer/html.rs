//! The explorer's pages as HTML, rendered on the server from the views:
//! no script, no external resources, so they work offline inside a private
//! network. The dashboard refreshes itself every few seconds.

use super::view::*;
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A time in milliseconds since the epoch as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn when_ms(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A date in seconds since the epoch as `YYYY-MM-DD`.
pub fn date_s(s: i64) -> String {
    when_ms(s.saturating_mul(1000))
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

const STYLE: &str = "body{font-family:sans-serif;margin:0;color:#222}\
nav{background:#1f3a5f;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}\
main{padding:1em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#eef}code{font-size:.9em}.bad{color:#b00}.ok{color:#070}.warn{background:#fdd}\
.num{font-size:1.6em;font-weight:bold}.card{display:inline-block;border:1px solid #ccc;\
padding:.5em 1em;margin:0 .5em .5em 0}";

/// A whole page around `body`.
pub fn page(title: &str, body: &str, refresh: bool) -> String {
    let meta = if refresh {
        "<meta http-equiv=\"refresh\" content=\"5\">"
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">{meta}<title>{t} · Consort</title>\
         <style>{STYLE}</style></head><body><nav><a href=\"/explorer\">Dashboard</a>\
         <a href=\"/explorer/blocks\">Blocks</a><a href=\"/explorer/chaincodes\">Chaincodes</a>\
         <a href=\"/explorer/orgs\">Orgs</a></nav><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    )
}

fn code_class(code: &str) -> &'static str {
    if code == "VALID" {
        "ok"
    } else {
        "bad"
    }
}

fn tx_rows(txs: &[TxSummary]) -> String {
    let mut s = String::from(
        "<table class=\"txs\"><tr><th>#</th><th>Transaction</th><th>Code</th><th>Creator</th>\
         <th>Chaincode</th><th>Function</th><th>Endorsers</th></tr>",
    );
    for t in txs {
        let _ = write!(
            s,
            "<tr><td>{}</td><td><a class=\"tx\" href=\"/explorer/tx/{}\"><code>{}</code></a></td>\
             <td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.index,
            enc(&t.tx_id),
            esc(&t.tx_id),
            code_class(&t.code),
            esc(&t.code),
            esc(&t.creator_msp),
            esc(&t.chaincode),
            esc(&t.function),
            esc(&t.endorsers.join(", "))
        );
    }
    s.push_str("</table>");
    s
}

fn block_rows(blocks: &[BlockView]) -> String {
    let mut s = String::from(
        "<table class=\"blocks\"><tr><th>Block</th><th>Hash</th><th>Transactions</th>\
         <th>Valid</th><th>Cut at</th></tr>",
    );
    for b in blocks {
        let _ = write!(
            s,
            "<tr><td><a class=\"block\" href=\"/explorer/blocks/{n}\">{n}</a></td>\
             <td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&b.hash[..16.min(b.hash.len())]),
            b.txs.len(),
            b.valid,
            when_ms(b.timestamp_ms),
            n = b.number
        );
    }
    s.push_str("</table>");
    s
}

/// The dashboard.
pub fn dashboard(d: &Dashboard) -> String {
    let mut s = format!(
        "<div class=\"card\">Channel<div class=\"num\">{}</div></div>\
         <div class=\"card\">Height<div class=\"num\" id=\"height\">{}</div></div>\
         <div class=\"card\">tx/s (5 min)<div class=\"num\">{:.2}</div></div>\
         <div class=\"card\">Valid (5 min)<div class=\"num ok\">{}</div></div>\
         <div class=\"card\">Invalid (5 min)<div class=\"num bad\">{}</div></div>",
        esc(&d.channel),
        d.height,
        d.tx_per_s,
        d.valid,
        d.invalid
    );
    if let Some(h) = &d.health {
        let (class, status) = if h.healthy() {
            ("ok", "OK".to_owned())
        } else {
            ("bad", h.failed_checks.join(", "))
        };
        let _ = write!(
            s,
            "<div class=\"card\">This peer<div class=\"num {class}\" id=\"health\">{}</div></div>",
            esc(&status)
        );
    }
    s.push_str("<h2>Latest blocks</h2>");
    s.push_str(&block_rows(&d.latest));
    s.push_str("<h2>Nodes</h2><table><tr><th>Role</th><th>Org</th><th>Endpoint</th></tr>");
    for n in &d.nodes {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            n.role,
            esc(&n.msp_id),
            esc(&n.endpoint)
        );
    }
    s.push_str("</table>");
    if let Some(h) = &d.health {
        s.push_str(
            "<h2>This peer's health</h2><table><tr><th>Check</th><th>Status</th><th>Seen</th></tr>",
        );
        for c in &h.checks {
            let class = if c.passed() { "ok" } else { "bad" };
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>",
                c.component,
                c.status,
                esc(&c.reason)
            );
        }
        s.push_str("</table>");
    }
    page("Dashboard", &s, true)
}

/// The block list.
pub fn blocks(p: &BlockPage) -> String {
    let mut s = block_rows(&p.blocks);
    if let Some(b) = p.next_before {
        let _ = write!(
            s,
            "<p><a href=\"/explorer/blocks?before={b}\">Older blocks</a></p>"
        );
    }
    page("Blocks", &s, false)
}

/// One block.
pub fn block(b: &BlockView) -> String {
    let mut s = format!(
        "<table><tr><th>Hash</th><td><code>{}</code></td></tr>\
         <tr><th>Previous</th><td><code>{}</code></td></tr>\
         <tr><th>Cut at</th><td>{}</td></tr></table>",
        esc(&b.hash),
        esc(&b.previous_hash),
        when_ms(b.timestamp_ms)
    );
    if b.number == 0 {
        s.push_str("<p>The genesis block: the channel config.</p>");
    } else {
        s.push_str(&tx_rows(&b.txs));
    }
    page(&format!("Block {}", b.number), &s, false)
}

/// One transaction.
pub fn tx(t: &TxView) -> String {
    let m = &t.summary;
    let mut s = format!(
        "<table><tr><th>ID</th><td><code id=\"tx-id\">{}</code></td></tr>\
         <tr><th>Block</th><td><a class=\"block\" href=\"/explorer/blocks/{b}\">{b}</a> (#{})</td></tr>\
         <tr><th>Code</th><td class=\"{}\" id=\"code\">{}</td></tr>\
         <tr><th>Creator</th><td>{}</td></tr><tr><th>Call</th><td>{}.{}({})</td></tr>\
         <tr><th>Endorsers</th><td>{}</td></tr>",
        esc(&m.tx_id),
        m.index,
        code_class(&m.code),
        esc(&m.code),
        esc(&m.creator_msp),
        esc(&m.chaincode),
        esc(&m.function),
        esc(&t.args.join(", ")),
        esc(&m.endorsers.join(", ")),
        b = t.block,
    );
    if let Some((name, payload)) = &t.event {
        let _ = write!(
            s,
            "<tr><th>Event</th><td>{}: <code>{}</code></td></tr>",
            esc(name),
            esc(payload)
        );
    }
    s.push_str("</table>");
    for ns in &t.rwsets {
        let _ = write!(
            s,
            "<h2>{}</h2><h3>Reads</h3><table><tr><th>Key</th><th>Version</th></tr>",
            esc(&ns.namespace)
        );
        for r in &ns.reads {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td></tr>",
                history_link(&ns.namespace, &r.key),
                esc(&r.version)
            );
        }
        s.push_str("</table><h3>Writes</h3><table><tr><th>Key</th><th>Value</th></tr>");
        for w in &ns.writes {
            let value = if w.is_delete {
                "(deleted)".to_owned()
            } else {
                format!("<code>{}</code>", esc(&w.value))
            };
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{value}</td></tr>",
                history_link(&ns.namespace, &w.key)
            );
        }
        s.push_str("</table>");
        if ns.range_scans > 0 {
            let _ = write!(s, "<p>{} range scan(s)</p>", ns.range_scans);
        }
    }
    page("Transaction", &s, false)
}

fn history_link(namespace: &str, key: &str) -> String {
    format!(
        "<a class=\"key\" href=\"/explorer/history/{}?key={}\">{}</a>",
        enc(namespace),
        enc(key),
        esc(key)
    )
}

/// A page of world state.
pub fn state(p: &StatePage) -> String {
    let mut s = format!(
        "<form method=\"get\">Key prefix <input name=\"prefix\" value=\"{}\"> \
         <button>Search</button></form><table class=\"state\"><tr><th>Key</th><th>Value</th>\
         <th>Version</th></tr>",
        esc(&p.prefix)
    );
    for e in &p.entries {
        let _ = write!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            history_link(&p.namespace, &e.key),
            esc(&e.value),
            esc(&e.version)
        );
    }
    s.push_str("</table>");
    if let Some(next) = &p.next_start {
        let _ = write!(
            s,
            "<p><a href=\"/explorer/state/{}?prefix={}&amp;start={}\">Next page</a></p>",
            enc(&p.namespace),
            enc(&p.prefix),
            enc(next)
        );
    }
    page(&format!("World state: {}", p.namespace), &s, false)
}

/// A key's history.
pub fn history(h: &KeyHistory) -> String {
    let mut s = String::from(
        "<table class=\"history\"><tr><th>Block</th><th>Transaction</th><th>Value</th>\
         <th>At</th></tr>",
    );
    for e in &h.entries {
        let value = if e.is_delete {
            "(deleted)".to_owned()
        } else {
            format!("<code>{}</code>", esc(&e.value))
        };
        let _ = write!(
            s,
            "<tr><td><a class=\"block\" href=\"/explorer/blocks/{b}\">{b}</a></td>\
             <td><a class=\"tx\" href=\"/explorer/tx/{}\"><code>{}</code></a></td><td>{value}</td>\
             <td>{}</td></tr>",
            enc(&e.tx_id),
            esc(&e.tx_id),
            when_ms(e.timestamp_ms),
            b = e.block
        );
    }
    s.push_str("</table>");
    page(
        &format!("History of {} in {}", h.key, h.namespace),
        &s,
        false,
    )
}

/// The orgs and their certificates' expiry.
pub fn orgs(orgs: &[OrgView]) -> String {
    let mut s = String::from(
        "<table><tr><th>Org</th><th>Certificate</th><th>Subject</th><th>Expires</th>\
         <th>Days left</th></tr>",
    );
    for o in orgs {
        for c in &o.certs {
            let class = if c.warning { " class=\"warn\"" } else { "" };
            let _ = write!(
                s,
                "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                esc(&o.msp_id),
                c.kind,
                esc(&c.subject),
                date_s(c.not_after),
                c.days_left,
                if c.warning { " (renew soon)" } else { "" }
            );
        }
    }
    s.push_str("</table>");
    page("Orgs", &s, false)
}

fn or_none(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// The chaincode definitions.
pub fn chaincodes(list: &[ChaincodeView]) -> String {
    let mut s = String::from(
        "<table><tr><th>Chaincode</th><th>Version</th><th>Sequence</th><th>Endorsement policy</th>\
         <th>Runs</th><th>Approved by</th><th>Approved for the next sequence</th><th>State</th></tr>",
    );
    for c in list {
        let _ = write!(
            s,
            "<tr><td>{n}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td>{}</td><td>{}</td><td><a href=\"/explorer/state/{e}\">browse</a></td></tr>",
            esc(&c.version),
            c.sequence,
            esc(&c.policy),
            esc(&c.runs),
            esc(&or_none(&c.approved)),
            esc(&or_none(&c.approved_next)),
            n = esc(&c.name),
            e = enc(&c.name)
        );
    }
    s.push_str("</table>");
    page("Chaincodes", &s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_links_are_encoded() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{1}b"), "a\\u{1}b");
        assert_eq!(enc("lot 7/x\u{1}"), "lot%207%2Fx%01");
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(when_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when_ms(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(date_s(86_400), "1970-01-02");
    }

    #[test]
    fn pages_stand_alone() {
        let html = page("T", "<p>x</p>", true);
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(!html.contains("<script"));
    }
}
