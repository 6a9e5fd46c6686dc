//! The web explorer in a real browser: headless Chromium (Debian's
//! `chromium`, which `deploy/test.sh` installs) loads the pages of a live
//! network after known transactions, the test checks the DOM for their IDs,
//! codes, blocks and state values and follows the links from a block to a
//! transaction to a key's history, and saves a screenshot of each page in
//! `target/explorer-screenshots/`. Without Chromium the test fails under CI
//! and is skipped, with a message, elsewhere.

mod common;

use common::*;
use consort::client::args;
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL: &str = "apt-get install chromium";

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let out = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .ok()?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// Chromium's flags for a bounded, headless, loopback-only run.
fn headless(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.arg("60").arg(bin).args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1280,900",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The DOM of `url` after Chromium loaded it.
fn dom(bin: &Path, profile: &Path, url: &str) -> String {
    let out = headless(bin, profile)
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --dump-dom {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Saves a screenshot of `url` as `file`.
fn screenshot(bin: &Path, profile: &Path, url: &str, file: &Path) {
    let out = headless(bin, profile)
        .arg(format!("--screenshot={}", file.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success() && file.exists(),
        "chromium --screenshot {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first `href="…"` after `marker` (e.g. a link's class) in `html`,
/// with `&amp;` decoded.
fn href_after(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in the page"));
    let rest = &html[at..];
    let start = rest.find("href=\"").expect("a link") + 6;
    let end = rest[start..].find('"').expect("end of link") + start;
    rest[start..end].replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_shows_known_transactions_in_a_browser() {
    let Some(bin) = chromium() else {
        let message = format!("chromium is not installed; run `{INSTALL}`");
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("skipping the explorer browser test: {message}");
        return;
    };
    let _serial = serial().await;
    let t = TestNet::start().await;
    let peer = t
        .net
        .nodes()
        .iter()
        .find(|n| n.name == "peer0.org1")
        .and_then(|n| n.operations.clone())
        .expect("peer0.org1 has an operations listener");
    let base = format!("http://{peer}");
    let c = t.client(1).await;
    let create = c
        .invoke(
            "asset-transfer",
            "create",
            &args(&["lot-42", "blue", "5", "alice", "300"]),
        )
        .await
        .expect("create an asset");
    let moved = c
        .invoke("asset-transfer", "transfer", &args(&["lot-42", "bob"]))
        .await
        .expect("transfer the asset");
    let profile = t.dir.path().join("chromium");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(|p| p.join("explorer-screenshots"))
        .expect("target dir");
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    // The block page lists the transaction with its code.
    let block_url = format!("{base}/explorer/blocks/{}", moved.block);
    let block = dom(&bin, &profile, &block_url);
    assert!(block.contains(&moved.tx_id), "{block}");
    assert!(block.contains(moved.code.as_str_name()), "{block}");
    screenshot(&bin, &profile, &block_url, &shots.join("block.png"));

    // Its link leads to the transaction, with its block and written value.
    let tx_link = format!("href=\"/explorer/tx/{}\"", moved.tx_id);
    assert!(block.contains(&tx_link), "{block}");
    let tx_url = format!("{base}/explorer/tx/{}", moved.tx_id);
    let tx = dom(&bin, &profile, &tx_url);
    assert!(
        tx.contains(&format!("id=\"tx-id\">{}", moved.tx_id)),
        "{tx}"
    );
    assert!(tx.contains(&format!(">{}</a>", moved.block)), "{tx}");
    assert!(
        tx.contains("bob"),
        "the new owner is in the write set: {tx}"
    );
    screenshot(&bin, &profile, &tx_url, &shots.join("transaction.png"));

    // The written key's link leads to its history: both transactions.
    let history_url = format!("{base}{}", href_after(&tx, "class=\"key\""));
    let history = dom(&bin, &profile, &history_url);
    assert!(history.contains(&create.tx_id), "{history}");
    assert!(history.contains(&moved.tx_id), "{history}");
    assert!(
        history.contains(&format!(">{}</a>", create.block)),
        "{history}"
    );
    screenshot(&bin, &profile, &history_url, &shots.join("history.png"));

    // The world state holds the asset's current value.
    let state_url = format!("{base}/explorer/state/asset-transfer?prefix=");
    let state = dom(&bin, &profile, &state_url);
    assert!(state.contains("lot-42") && state.contains("bob"), "{state}");
    screenshot(&bin, &profile, &state_url, &shots.join("state.png"));

    let block_link = format!("href=\"/explorer/blocks/{}\"", moved.block);
    for (page, file, expect) in [
        ("/explorer", "dashboard.png", block_link.as_str()),
        ("/explorer/blocks", "blocks.png", block_link.as_str()),
        ("/explorer/chaincodes", "chaincodes.png", "asset-transfer"),
        ("/explorer/orgs", "orgs.png", "Org3MSP"),
    ] {
        let url = format!("{base}{page}");
        let html = dom(&bin, &profile, &url);
        assert!(html.contains(expect), "{page}: {html}");
        if page == "/explorer" {
            assert!(
                html.contains("id=\"health\">OK<"),
                "this peer is healthy: {html}"
            );
        }
        screenshot(&bin, &profile, &url, &shots.join(file));
    }
}
