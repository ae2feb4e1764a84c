//! 64 concurrent clients against a real `sealdesk serve` on the loopback: a flood of operator sign-ins, then a
//! flood of 2 MB PDF uploads, each while a prober times `/healthz`. Prints the server's resident memory (peak
//! and sampled) and the probe's p50/p99 per phase, with an idle phase as the anchor.
//!
//! `cargo bench -p sealdesk --bench flood` (bounded: about a minute, loopback only). Goal (issue 7): RSS under
//! 300 MB and `/healthz` p99 under 50 ms during either flood.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sealdesk");
const CLIENTS: usize = 64;
const PHASE: Duration = Duration::from_secs(12);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn proc_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A 2 MB-class PDF: one A4 page holding a 300-dpi stamped-form scan as a JPEG image, like a scanner writes.
fn scan_pdf() -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let form =
        sealdesk_artwork::testkit::generate(0x0F10_0D, sealdesk_artwork::testkit::FormSpec::A4_300);
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let img = doc.add_object(Stream::new(
        dictionary! {"Type" => "XObject", "Subtype" => "Image", "Width" => form.width as i64, "Height" => form.height as i64,
                     "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode"},
        form.jpeg.clone(),
    ));
    let content = doc.add_object(Stream::new(
        dictionary! {},
        b"q 595 0 0 842 0 0 cm /Im0 Do Q".to_vec(),
    ));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content, "Resources" => dictionary! {"XObject" => dictionary! {"Im0" => img}},
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
        ),
    );
    let catalog = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("pdf");
    out
}

struct Phase {
    name: &'static str,
    p50_ms: f64,
    p99_ms: f64,
    rss_peak_mb: f64,
    rss_max_sampled_mb: f64,
    requests: u64,
}

/// Probes `/healthz` every 20 ms and samples the server's RSS every 100 ms while `load` runs for [`PHASE`].
async fn phase<F, Fut>(name: &'static str, base: &str, pid: u32, load: F) -> Phase
where
    F: Fn(usize, Arc<AtomicBool>, Arc<AtomicU64>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    // Reset the peak (VmHWM) so that each phase reports its own.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(load(i, stop.clone(), done.clone())))
        .collect();
    let http = {
        sealdesk_adapters::install_tls_provider();
        reqwest::Client::new()
    };
    let mut lat = Vec::new();
    let mut rss_max = 0;
    let start = Instant::now();
    let mut next_rss = Instant::now();
    while start.elapsed() < PHASE {
        let t = Instant::now();
        let ok = http
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        lat.push(if ok { ms } else { 10_000.0 });
        if Instant::now() >= next_rss {
            rss_max = rss_max.max(proc_kb(pid, "VmRSS:"));
            next_rss = Instant::now() + Duration::from_millis(100);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(40), w).await;
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    Phase {
        name,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        rss_peak_mb: proc_kb(pid, "VmHWM:") as f64 / 1024.0,
        rss_max_sampled_mb: rss_max as f64 / 1024.0,
        requests: done.load(Ordering::Relaxed),
    }
}

async fn json(r: reqwest::RequestBuilder) -> serde_json::Value {
    r.send().await.expect("request").json().await.expect("json")
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--listen",
            &listen,
            "--trusted-proxy",
            "127.0.0.1",
        ])
        .arg("--data-dir")
        .arg(tmp.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let pid = child.id();
    let _server = Server(child);
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let http = {
        sealdesk_adapters::install_tls_provider();
        reqwest::Client::new()
    };

    // 64 applicants, each behind the trusted proxy with its own address, each with a draft order.
    let pdf = Arc::new(scan_pdf());
    let mut sessions = Vec::new();
    for i in 0..CLIENTS {
        let mobile = format!("1390000{i:04}");
        let ip = format!("198.51.100.{}", i + 1);
        http.post(format!("{base}/api/v1/auth/sms-code"))
            .header("x-forwarded-for", &ip)
            .json(&serde_json::json!({"mobile": mobile}))
            .send()
            .await
            .expect("code");
        let outbox = json(http.get(format!("{base}/api/v1/demo/outbox?mobile={mobile}"))).await;
        let code: String = outbox[0]["text"]
            .as_str()
            .unwrap_or_default()
            .split("验证码为")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect();
        let s = json(
            http.post(format!("{base}/api/v1/auth/applicant"))
                .header("x-forwarded-for", &ip)
                .json(&serde_json::json!({"mobile": mobile, "code": code})),
        )
        .await;
        let token = s["token"].as_str().expect("token").to_owned();
        let order = json(http.post(format!("{base}/api/v1/orders")).bearer_auth(&token).json(&serde_json::json!({
            "project": "testCSQY", "service": "new",
            "holder": {"kind": "enterprise", "applicant_name": "李四", "id_number": "11010519491231002X", "mobile": mobile,
                       "enterprise_name": "北筑设计研究院有限公司", "enterprise_phone": "0791-82221588",
                       "credit_code": "91110108551385082Q", "address": "北京市西城区南礼士路62号"},
            "seals": [{"kind": "official_seal", "count": 1}], "months": 12}))).await;
        sessions.push((
            token,
            order["id"].as_str().expect("order id").to_owned(),
            ip,
        ));
    }
    let sessions = Arc::new(sessions);
    println!(
        "sealdesk flood bench: {CLIENTS} clients, {} s per phase, PDF {:.2} MB, {} cores",
        PHASE.as_secs(),
        pdf.len() as f64 / 1_048_576.0,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    let mut results = Vec::new();
    results.push(
        phase("idle", &base, pid, |_, stop, _| async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await,
    );
    let b = base.clone();
    results.push(
        phase("operator sign-in flood", &base, pid, move |i, stop, done| {
            let (b, http) = (b.clone(), { sealdesk_adapters::install_tls_provider(); reqwest::Client::new() });
            async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Unknown names, each a fresh one, so that every attempt is hashed (none is cut short by
                    // a lock-out): the worst case for memory and CPU.
                    let _ = http
                        .post(format!("{b}/api/v1/auth/operator"))
                        .header("x-forwarded-for", format!("203.0.113.{}", i + 1))
                        .json(&serde_json::json!({"name": format!("intruder{i}-{n}"), "password": "wrong"}))
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await;
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await,
    );
    let b = base.clone();
    results.push(
        phase("2 MB PDF upload flood", &base, pid, move |i, stop, done| {
            let (b, http, pdf, sessions) = (
                b.clone(),
                {
                    sealdesk_adapters::install_tls_provider();
                    reqwest::Client::new()
                },
                pdf.clone(),
                sessions.clone(),
            );
            async move {
                let (token, order, ip) = &sessions[i];
                while !stop.load(Ordering::Relaxed) {
                    let part = reqwest::multipart::Part::bytes(pdf.to_vec()).file_name("form.pdf");
                    let form = reqwest::multipart::Form::new()
                        .text("kind", "impression_form")
                        .part("file", part);
                    let _ = http
                        .post(format!("{b}/api/v1/orders/{order}/uploads"))
                        .bearer_auth(token)
                        .header("x-forwarded-for", ip.as_str())
                        .multipart(form)
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await,
    );
    println!(
        "| phase | requests | /healthz p50 ms | /healthz p99 ms | RSS peak MB (VmHWM) | RSS max sampled MB |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for p in &results {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} |",
            p.name, p.requests, p.p50_ms, p.p99_ms, p.rss_peak_mb, p.rss_max_sampled_mb
        );
    }
    let anchor = &results[0];
    for p in &results[1..] {
        println!(
            "{}: p99 {:.1}× idle, RSS peak {:.1}× idle; goal p99 < 50 ms: {}, RSS < 300 MB: {}",
            p.name,
            p.p99_ms / anchor.p99_ms.max(0.1),
            p.rss_peak_mb / anchor.rss_peak_mb.max(1.0),
            if p.p99_ms < 50.0 { "met" } else { "NOT met" },
            if p.rss_peak_mb < 300.0 {
                "met"
            } else {
                "NOT met"
            },
        );
    }
}
