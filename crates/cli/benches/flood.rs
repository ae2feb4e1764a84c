//! 64 concurrent clients against a real `sealdesk serve` on the loopback: a flood of operator sign-ins, then a
//! flood of 2 MB PDF uploads, each while a prober times `/healthz`. Prints, per phase, the probe's p50/p99, the
//! server's resident memory (peak and sampled), its CPU time and the requests it answered, with an idle phase
//! as the anchor.
//!
//! `cargo bench -p sealdesk --bench flood` (bounded: about a minute, loopback only) measures the `sealdesk`
//! binary built with it; `SEALDESK_FLOOD_BIN=PATH` measures another build of it instead (an earlier commit's,
//! for a before/after). Goal (issue 7): RSS under 300 MB and `/healthz` p99 under 50 ms during either flood.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sealdesk");
const CLIENTS: usize = 64;
const PHASE: Duration = Duration::from_secs(12);
/// `/proc/PID/stat` counts CPU time in USER_HZ ticks, 100 a second on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

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

/// The server's user + system CPU time so far, in seconds (all its threads).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are space-separated, utime and stime being the
    // 12th and 13th after the closing parenthesis.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    (f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0)) as f64 / TICKS_PER_SECOND
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Size of the uploaded PDF: 2 MiB, a colour 300-dpi A4 scan as scanners write it.
const PDF_BYTES: usize = 2 * 1024 * 1024;

/// The pixel size in a JPEG's start-of-frame segment.
fn jpeg_size(jpeg: &[u8]) -> (i64, i64) {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        let (marker, len) = (
            jpeg[i + 1],
            usize::from(jpeg[i + 2]) << 8 | usize::from(jpeg[i + 3]),
        );
        if matches!(marker, 0xC0..=0xC3) {
            let h = i64::from(jpeg[i + 5]) << 8 | i64::from(jpeg[i + 6]);
            let w = i64::from(jpeg[i + 7]) << 8 | i64::from(jpeg[i + 8]);
            return (w, h);
        }
        i += 2 + len;
    }
    panic!("no frame header in the JPEG");
}

/// A 2 MiB PDF: one A4 page holding a stamped-form scan as a JPEG image, like a scanner writes. The stored scan
/// is smaller (about 0.45 MB), so an unreferenced stream of incompressible bytes makes up the rest:
/// the server receives, stores and parses the whole file, as it would a finer scan.
fn scan_pdf() -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../artwork/tests/forms/form-1.jpg"
    ))
    .expect("the stored form scan");
    let (width, height) = jpeg_size(&jpeg);
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let img = doc.add_object(Stream::new(
        dictionary! {"Type" => "XObject", "Subtype" => "Image", "Width" => width, "Height" => height,
                     "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode"},
        jpeg,
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
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..PDF_BYTES.saturating_sub(out.len() + 256))
        .map(|_| {
            // xorshift64: incompressible, and the same file on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    doc.add_object(Stream::new(dictionary! {}, noise));
    out.clear();
    doc.save_to(&mut out).expect("pdf");
    out
}

/// What the load clients got back.
#[derive(Default)]
struct Answers {
    ok: AtomicU64,
    refused_401: AtomicU64,
    busy_429: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
}

impl Answers {
    fn count(&self, r: Result<reqwest::Response, reqwest::Error>) {
        let slot = match r.map(|r| r.status().as_u16()) {
            Ok(200..=299) => &self.ok,
            Ok(401) => &self.refused_401,
            Ok(429) => &self.busy_429,
            Ok(_) => &self.other,
            Err(_) => &self.failed,
        };
        slot.fetch_add(1, Ordering::Relaxed);
    }

    fn answered(&self) -> u64 {
        [&self.ok, &self.refused_401, &self.busy_429, &self.other]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    fn summary(&self) -> String {
        format!(
            "2xx {}, 401 {}, 429 {}, other {}, no answer {}",
            self.ok.load(Ordering::Relaxed),
            self.refused_401.load(Ordering::Relaxed),
            self.busy_429.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }
}

struct Phase {
    name: &'static str,
    p50_ms: f64,
    p99_ms: f64,
    probes: usize,
    rss_peak_mb: f64,
    rss_max_sampled_mb: f64,
    cpu_s: f64,
    answers: Arc<Answers>,
}

/// What the prober saw: `/healthz` latencies (a failed probe counts as 10 s) and the largest sampled RSS, KiB.
struct Probe {
    latencies_ms: Vec<f64>,
    rss_max_kb: u64,
}

/// Probes `/healthz` every 20 ms and samples the server's RSS every 100 ms for [`PHASE`], on a thread and
/// runtime of its own, so that the load clients' work never delays a probe on the client side.
fn probe(base: String, pid: u32) -> std::thread::JoinHandle<Probe> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("prober runtime");
        rt.block_on(async move {
            sealdesk_adapters::install_tls_provider();
            let http = reqwest::Client::new();
            let (mut latencies_ms, mut rss_max_kb) = (Vec::new(), 0);
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
                latencies_ms.push(if ok { ms } else { 10_000.0 });
                if Instant::now() >= next_rss {
                    rss_max_kb = rss_max_kb.max(proc_kb(pid, "VmRSS:"));
                    next_rss = Instant::now() + Duration::from_millis(100);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Probe {
                latencies_ms,
                rss_max_kb,
            }
        })
    })
}

/// Runs `load` on [`CLIENTS`] tasks for [`PHASE`] while [`probe`] measures.
async fn phase<F, Fut>(name: &'static str, base: &str, pid: u32, load: F) -> Phase
where
    F: Fn(usize, Arc<AtomicBool>, Arc<Answers>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    // Reset the peak (VmHWM) to the present RSS, so that each phase reports its own.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let cpu_before = cpu_seconds(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Answers::default());
    let workers: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(load(i, stop.clone(), answers.clone())))
        .collect();
    let prober = probe(base.to_owned(), pid);
    let seen = tokio::task::spawn_blocking(move || prober.join().expect("prober"))
        .await
        .expect("prober thread");
    stop.store(true, Ordering::Relaxed);
    // Read before the clients wind down: the figures are those of the flood.
    let rss_peak_mb = proc_kb(pid, "VmHWM:") as f64 / 1024.0;
    let cpu_s = cpu_seconds(pid) - cpu_before;
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(40), w).await;
    }
    let mut lat = seen.latencies_ms;
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    Phase {
        name,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        probes: lat.len(),
        rss_peak_mb,
        rss_max_sampled_mb: seen.rss_max_kb as f64 / 1024.0,
        cpu_s,
        answers,
    }
}

async fn json(r: reqwest::RequestBuilder) -> serde_json::Value {
    r.send().await.expect("request").json().await.expect("json")
}

fn client() -> reqwest::Client {
    sealdesk_adapters::install_tls_provider();
    reqwest::Client::new()
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let bin = std::env::var_os("SEALDESK_FLOOD_BIN").unwrap_or_else(|| BIN.into());
    println!("server: {}", std::path::Path::new(&bin).display());
    let child = Command::new(&bin)
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
    let http = client();
    while !http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

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
        "sealdesk flood bench: {CLIENTS} clients, {} s per phase, PDF {:.2} MB, {} cores, load average {}",
        PHASE.as_secs(),
        pdf.len() as f64 / 1_048_576.0,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_average()
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
        phase(
            "operator sign-in flood",
            &base,
            pid,
            move |i, stop, answers| {
                let (b, http) = (b.clone(), client());
                async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // Unknown names, each a fresh one, so that every attempt is hashed (none is cut short by
                        // a lock-out): the worst case for memory and CPU.
                        let r = http
                        .post(format!("{b}/api/v1/auth/operator"))
                        .header("x-forwarded-for", format!("203.0.113.{}", i + 1))
                        .json(&serde_json::json!({"name": format!("intruder{i}-{n}"), "password": "wrong"}))
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await;
                        answers.count(r);
                        n += 1;
                    }
                }
            },
        )
        .await,
    );
    let b = base.clone();
    results.push(
        phase(
            "2 MB PDF upload flood",
            &base,
            pid,
            move |i, stop, answers| {
                let (b, http, pdf, sessions) = (b.clone(), client(), pdf.clone(), sessions.clone());
                async move {
                    let (token, order, ip) = &sessions[i];
                    while !stop.load(Ordering::Relaxed) {
                        let part =
                            reqwest::multipart::Part::bytes(pdf.to_vec()).file_name("form.pdf");
                        let form = reqwest::multipart::Form::new()
                            .text("kind", "impression_form")
                            .part("file", part);
                        let r = http
                            .post(format!("{b}/api/v1/orders/{order}/uploads"))
                            .bearer_auth(token)
                            .header("x-forwarded-for", ip.as_str())
                            .multipart(form)
                            .timeout(Duration::from_secs(60))
                            .send()
                            .await;
                        answers.count(r);
                    }
                }
            },
        )
        .await,
    );
    println!("load average at the end {}", load_average());
    println!(
        "| phase | requests answered | /healthz p50 ms | /healthz p99 ms | RSS peak MB (VmHWM) | RSS max sampled MB | server CPU s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for p in &results {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} |",
            p.name,
            p.answers.answered(),
            p.p50_ms,
            p.p99_ms,
            p.rss_peak_mb,
            p.rss_max_sampled_mb,
            p.cpu_s
        );
    }
    let anchor = &results[0];
    for p in &results[1..] {
        println!(
            "{}: {} probes; answers: {}; p50 {:.1}× idle, p99 {:.1}× idle, RSS peak {:.1}× idle; goal p99 < 50 ms: {}, RSS < 300 MB: {}",
            p.name,
            p.probes,
            p.answers.summary(),
            p.p50_ms / anchor.p50_ms.max(0.1),
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
