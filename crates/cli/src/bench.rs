//! `sealdesk bench`: fills a database with realistic orders and drives the real HTTP API of a `sealdesk serve`
//! child process with many connections, beside a bare axum endpoint (the ceiling of this machine, in the same
//! run). Prints throughput and p50/p99 per scenario and the server's peak memory, as a Markdown table for
//! `docs/benchmarks.md`.
//!
//! The fill writes orders straight into the database ([`sealdesk_store::Store::bulk_load`]): a million orders
//! through the use cases would take hours and measure the fill, not the platform. Everything measured goes
//! through HTTP, sessions, authorisation, the store and the blob store exactly as production requests do.

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sealdesk_domain::{
    Authorization, Fen, Holder, HolderKind, Order, OrderNo, OrderState, SealKind, SealLine,
    Service, Timestamp,
};
use sealdesk_store::{OrderFilter, Payment, Session, Store};
use serde_json::json;

use crate::DataArgs;

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Orders the database should hold: synthetic orders are added up to this count (in steps of 10 000).
    #[arg(long, default_value_t = 20_000)]
    orders: usize,
    /// Concurrent connections for the read scenarios.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Concurrent connections for submissions and payment notifications.
    #[arg(long, default_value_t = 16)]
    write_connections: usize,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Only fill the database.
    #[arg(long)]
    fill_only: bool,
    /// Run only these scenarios (comma-separated: bare, applicant_list, order_detail, operator_list,
    /// operator_search, submission, payment_notify).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The scan the submission scenario uploads (padded to 500 KB); the binary carries no form generator.
    #[arg(long, default_value = "crates/artwork/tests/forms/form-1.jpg")]
    scan: std::path::PathBuf,
    /// 审核预检 workers of the measured server (`serve --precheck-workers`): 0 measures submissions with the
    /// OCR left to other machines, as a deployment with dedicated check workers runs them.
    #[arg(long, default_value_t = sealdesk_app::DEFAULT_PRECHECK_WORKERS)]
    precheck_workers: usize,
}

/// `sealdesk bench-bare`: the ceiling, an axum endpoint that does nothing.
#[derive(clap::Args)]
pub struct BareArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: String,
}

const PROJECTS: usize = 20;
const GROUPS: usize = 4;
const FILL_STEP: usize = 10_000;
const ORDERS_PER_APPLICANT: usize = 10;
/// Applicants the load uses (each read connection acts as one of them).
const SESSIONS: usize = 64;
const UPLOAD_BYTES: usize = 500 * 1024;

pub async fn bare(a: BareArgs) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(&a.listen).await?;
    let app = axum::Router::new().route(
        "/bare",
        axum::routing::get(|| async { axum::Json(json!({"ok": true})) }),
    );
    axum::serve(listener, app).await?;
    Ok(ExitCode::SUCCESS)
}

fn now_secs() -> i64 {
    sealdesk_domain::Clock::now(&sealdesk_domain::SystemClock).0
}

fn project_code(p: usize) -> String {
    format!("BENCH{p:02}")
}

fn mobile(applicant: usize) -> String {
    format!("170{applicant:08}")
}

/// A deterministic, varied order: names, services, seals and states spread like a live platform's (most
/// orders finished, a working set in review and payment).
fn synthetic_order(i: usize, id: i64, project_id: i64, code: &str, applicant_id: i64) -> Order {
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
    const GIVEN: [&str; 8] = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇"];
    const CITIES: [&str; 6] = ["南昌", "赣州", "九江", "上饶", "宜春", "吉安"];
    const TRADES: [&str; 5] = ["建筑设计", "市政工程", "园林绿化", "工程监理", "勘察测绘"];
    let state = match i % 20 {
        0..=7 => OrderState::Completed,
        8..=10 => OrderState::Draft,
        11..=13 => OrderState::PendingReview,
        14..=15 => OrderState::PendingPayment,
        16..=17 => OrderState::Paid,
        18 => OrderState::Rejected,
        _ => OrderState::Cancelled,
    };
    let service = match i % 10 {
        0..=5 => Service::New,
        6..=8 => Service::Renewal,
        _ => Service::Change,
    };
    let mut seals = vec![SealLine {
        kind: SealKind::OfficialSeal,
        count: 1,
        name: String::new(),
    }];
    if i % 3 == 0 {
        seals.push(SealLine {
            kind: SealKind::QualificationSeal,
            count: 1 + (i % 2) as u32,
            name: "资质专用章".into(),
        });
    }
    let months = [12u32, 24, 36][i % 3];
    let units: u32 = seals.iter().map(|s| s.count).sum();
    // Spread over two years, so lists mix old and new orders.
    let created = Timestamp(1_700_000_000 + (i as i64 * 63) % 63_000_000).rfc3339();
    let name = format!("{}{}", SURNAMES[i % 10], GIVEN[(i / 10) % 8]);
    Order {
        id,
        order_no: OrderNo::new(code, id).to_string(),
        project_id,
        applicant_id,
        service,
        state,
        holder: Holder {
            kind: Some(HolderKind::Enterprise),
            applicant_name: name,
            id_number: "11010519491231002X".into(),
            mobile: mobile(i / ORDERS_PER_APPLICANT),
            enterprise_name: format!(
                "{}{}{}有限公司",
                CITIES[i % 6],
                ["华", "赣", "洪", "豫章"][i % 4],
                TRADES[(i / 6) % 5]
            ),
            enterprise_phone: "0791-82221588".into(),
            credit_code: "91110108551385082Q".into(),
            address: format!("{}市红谷滩区丰和中大道{}号", CITIES[i % 6], 1 + i % 900),
            ..Default::default()
        },
        seals,
        authorization: Authorization {
            unit: "南昌市城建档案馆".into(),
            kind: "期限".into(),
            months,
            sizes: Vec::new(),
        },
        total: Fen(8_000 * i64::from(units) * i64::from(months) / 12),
        review_comment: if state == OrderState::Rejected {
            "营业执照扫描件不清晰，请重新上传".into()
        } else {
            String::new()
        },
        review_reasons: Vec::new(),
        invoice: None,
        key: None,
        previous_order: None,
        chosen_seals: Vec::new(),
        confirmed_cutouts: None,
        pad_signature: None,
        bid_opening: None,
        version: 1 + (i % 7) as i64,
        created_at: created.clone(),
        updated_at: created,
    }
}

async fn ensure_setup(store: &Store) -> anyhow::Result<(Vec<(i64, String)>, i64)> {
    let mut groups = Vec::new();
    for g in 0..GROUPS {
        groups.push(crate::group_id(store, &format!("压测组{g}")).await?);
    }
    let mut projects = Vec::new();
    for p in 0..PROJECTS {
        let code = project_code(p);
        let proj = match store.project_by_code(&code).await {
            Ok(x) => x,
            Err(_) => {
                store
                    .create_project(
                        &code,
                        &format!("压测授权单位{p:02}"),
                        Fen(8_000),
                        groups.get(p % GROUPS).copied(),
                    )
                    .await?
            }
        };
        projects.push((proj.id, code));
    }
    let op = match store.operator_by_name("bench-op").await {
        Ok(o) => o,
        Err(_) => {
            let o = store
                .create_operator(
                    "bench-op",
                    &sealdesk_app::hash_password("bench-operator-pw")?,
                    false,
                )
                .await?;
            store.add_to_group(groups[0], o.id).await?;
            o
        }
    };
    Ok((projects, op.id))
}

/// The orders in the database, all of them the bench's (it wants a database of its own). Counted by state, since
/// a list's count stops at `ORDER_COUNT_CAP`.
async fn count_bench_orders(store: &Store) -> anyhow::Result<usize> {
    let n: i64 = store
        .stats()
        .await?
        .orders_by_state
        .iter()
        .map(|(_, n)| n)
        .sum();
    Ok(n as usize)
}

async fn fill(store: &Store, projects: &[(i64, String)], target: usize) -> anyhow::Result<usize> {
    let have = count_bench_orders(store).await?;
    if have % FILL_STEP != 0 {
        bail!(
            "the database holds {have} bench orders, not a multiple of {FILL_STEP}: use a fresh database"
        );
    }
    let started = Instant::now();
    let mut n = have;
    while n < target {
        let mut applicants = Vec::with_capacity(FILL_STEP / ORDERS_PER_APPLICANT);
        let mut ids = Vec::with_capacity(FILL_STEP / ORDERS_PER_APPLICANT);
        for a in n / ORDERS_PER_APPLICANT..(n + FILL_STEP) / ORDERS_PER_APPLICANT {
            let id = store.next_id();
            applicants.push((id, mobile(a)));
            ids.push(id);
        }
        let mut orders = Vec::with_capacity(FILL_STEP);
        let mut payments = Vec::new();
        for i in n..n + FILL_STEP {
            let (pid, code) = &projects[(i / 3) % projects.len()];
            let o = synthetic_order(
                i,
                store.next_id(),
                *pid,
                code,
                ids[(i - n) / ORDERS_PER_APPLICANT],
            );
            if o.state == OrderState::PendingPayment {
                payments.push(Payment {
                    id: store.next_id(),
                    order_id: o.id,
                    channel: "sandbox".into(),
                    amount: o.total,
                    state: "pending".into(),
                    gateway_txn: None,
                    created_at: o.created_at.clone(),
                    ..Payment::default()
                });
            }
            orders.push(o);
        }
        store.bulk_load(&applicants, &orders, &payments).await?;
        n += FILL_STEP;
        if n % 100_000 == 0 {
            eprintln!(
                "  filled {n} orders ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if n > have {
        store.analyze().await?;
        eprintln!(
            "filled {} orders in {:.1} s",
            n - have,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(n)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> anyhow::Result<(Proc, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--listen", &listen]);
    let child = Command::new(std::env::current_exe()?)
        .args(&all)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .env("RUST_LOG", "warn")
        .spawn()
        .context("start the server")?;
    let c = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(&listen).is_err() {
        if Instant::now() > deadline {
            bail!("{args:?} did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((c, format!("http://{listen}")))
}

/// Peak and current resident memory of a process, in MB (Linux).
fn memory_mb(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct Outcome {
    name: &'static str,
    conns: usize,
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

type Call = Arc<
    dyn Fn(usize, u64) -> futures_util::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync,
>;

/// A scenario's request: `f(connection, n)` makes the n-th request of a connection.
fn call<F, Fut>(f: F) -> Call
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    use futures_util::FutureExt;
    Arc::new(move |c, n| f(c, n).boxed())
}

async fn phase(name: &'static str, conns: usize, secs: u64, call: Call) -> Outcome {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut first = None;
            let mut n: u64 = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match call(c, n).await {
                    Ok(()) => lat.push(t.elapsed().as_micros() as u32),
                    Err(e) if e == "exhausted" => break,
                    Err(e) => {
                        errors += 1;
                        first.get_or_insert(e);
                    }
                }
                n += 1;
            }
            (lat, errors, first)
        }));
    }
    let mut lat = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for t in tasks {
        if let Ok((l, e, f)) = t.await {
            lat.extend(l);
            errors += e;
            if first_error.is_none() {
                first_error = f;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|&us| us as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    Outcome {
        name,
        conns,
        ok: lat.len(),
        errors,
        first_error,
        secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

async fn check(
    resp: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, String> {
    let r = resp.map_err(|e| e.to_string())?;
    if r.status().is_success() {
        Ok(r)
    } else {
        let s = r.status();
        Err(format!("HTTP {s}: {}", r.text().await.unwrap_or_default()))
    }
}

/// A JPEG of at least `UPLOAD_BYTES`: the given scan, padded after its end marker like a scanner's metadata.
fn scan_500k(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let mut jpeg =
        std::fs::read(path).with_context(|| format!("reading the scan {}", path.display()))?;
    jpeg.resize(UPLOAD_BYTES.max(jpeg.len()), 0);
    Ok(jpeg)
}

pub async fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let url = a.data.url();
    std::fs::create_dir_all(&a.data.data_dir)?;
    let store = Store::connect(&url, 9).await.context("open the database")?;
    let (projects, operator_id) = ensure_setup(&store).await?;
    let total = fill(&store, &projects, a.orders).await?;
    if a.fill_only {
        println!(
            "{total} bench orders in {}",
            sealdesk_store::redact_url(&url)
        );
        return Ok(ExitCode::SUCCESS);
    }

    // Sessions for 64 applicants spread over the table, and their orders for the detail scenario.
    let expires = now_secs() + 3_600;
    let mut applicants = Vec::new();
    for s in 0..SESSIONS {
        let idx =
            (s * (total / ORDERS_PER_APPLICANT) / SESSIONS).min(total / ORDERS_PER_APPLICANT - 1);
        let id = store.applicant_for_mobile(&mobile(idx)).await?;
        let (orders, _) = store
            .list_orders(&OrderFilter {
                applicant_id: Some(id),
                limit: 50,
                ..Default::default()
            })
            .await?;
        let token = hex::encode(sealdesk_adapters::random_bytes::<24>());
        store
            .create_session(&Session {
                token_hash: sealdesk_adapters::sm3_hex(token.as_bytes()),
                kind: "applicant".into(),
                subject_id: id,
                csrf: hex::encode(sealdesk_adapters::random_bytes::<16>()),
                expires_at: expires,
            })
            .await?;
        applicants.push((token, orders.iter().map(|o| o.id).collect::<Vec<_>>()));
    }
    let op_token = hex::encode(sealdesk_adapters::random_bytes::<24>());
    store
        .create_session(&Session {
            token_hash: sealdesk_adapters::sm3_hex(op_token.as_bytes()),
            kind: "operator".into(),
            subject_id: operator_id,
            csrf: hex::encode(sealdesk_adapters::random_bytes::<16>()),
            expires_at: expires,
        })
        .await?;
    let search_prefixes: Vec<String> = {
        let (some, _) = store
            .list_orders(&OrderFilter {
                // The operator's projects: those of group 0 (project p is served by group p % GROUPS).
                project_ids: Some(projects.iter().step_by(GROUPS).map(|p| p.0).collect()),
                limit: 200,
                offset: 1_000.min(total as i64 / 4),
                ..Default::default()
            })
            .await?;
        // A prefix that leaves a handful of matches, as a typed partial order number does.
        some.iter()
            .map(|o| o.order_no[..o.order_no.len() - 4].to_owned())
            .collect()
    };
    let payments = Arc::new(store.pending_payments(200_000).await?);
    store.close().await;

    let gateway = sealdesk_adapters::keys::sandbox_gateway_key(&a.data.data_dir)
        .context("sandbox gateway key")?;
    let gateway = Arc::new(sealdesk_adapters::pay::SandboxGateway::new(gateway));
    let data_dir = a.data.data_dir.to_string_lossy().into_owned();
    let mut serve_args = vec![
        "serve",
        "--demo",
        "--data-dir",
        data_dir.as_str(),
        "--instance",
        "9",
    ];
    if let Some(u) = &a.data.database_url {
        serve_args.extend_from_slice(&["--database-url", u.as_str()]);
    }
    let workers = a.precheck_workers.to_string();
    serve_args.extend_from_slice(&["--precheck-workers", workers.as_str()]);
    let (server, base) = spawn(&serve_args)?;
    let (_bare, bare_base) = spawn(&["bench-bare"])?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(60))
        .build()?;
    let applicants = Arc::new(applicants);
    let want = |n: &str| a.only.is_empty() || a.only.iter().any(|o| o == n);
    let mut results = Vec::new();
    let (conns, wconns, secs) = (a.connections, a.write_connections, a.seconds);

    if want("bare") {
        let (h, b) = (http.clone(), bare_base.clone());
        results.push(
            phase(
                "bare axum (ceiling)",
                conns,
                secs,
                call(move |_, _| {
                    let (h, b) = (h.clone(), b.clone());
                    async move {
                        check(h.get(format!("{b}/bare")).send().await)
                            .await
                            .map(|_| ())
                    }
                }),
            )
            .await,
        );
    }
    if want("applicant_list") {
        let (h, b, ap) = (http.clone(), base.clone(), applicants.clone());
        results.push(
            phase(
                "applicant order list",
                conns,
                secs,
                call(move |c, _| {
                    let (h, b, t) = (h.clone(), b.clone(), ap[c % ap.len()].0.clone());
                    async move {
                        check(
                            h.get(format!("{b}/api/v1/orders"))
                                .bearer_auth(t)
                                .send()
                                .await,
                        )
                        .await
                        .map(|_| ())
                    }
                }),
            )
            .await,
        );
    }
    if want("order_detail") {
        let (h, b, ap) = (http.clone(), base.clone(), applicants.clone());
        results.push(
            phase(
                "order detail",
                conns,
                secs,
                call(move |c, n| {
                    let (t, ids) = &ap[c % ap.len()];
                    let id = ids.get(n as usize % ids.len().max(1)).copied().unwrap_or(0);
                    let (h, b, t) = (h.clone(), b.clone(), t.clone());
                    async move {
                        check(
                            h.get(format!("{b}/api/v1/orders/{id}"))
                                .bearer_auth(t)
                                .send()
                                .await,
                        )
                        .await
                        .map(|_| ())
                    }
                }),
            )
            .await,
        );
    }
    if want("operator_list") {
        let (h, b, t) = (http.clone(), base.clone(), op_token.clone());
        results.push(
            phase(
                "operator list, state filter, pages 1-5",
                conns,
                secs,
                call(move |c, n| {
                    let state = ["pending_review", "pending_payment", "paid"][c % 3];
                    let page = 1 + n % 5;
                    let (h, b, t) = (h.clone(), b.clone(), t.clone());
                    async move {
                        check(
                            h.get(format!("{b}/api/v1/orders?state={state}&page={page}"))
                                .bearer_auth(t)
                                .send()
                                .await,
                        )
                        .await
                        .map(|_| ())
                    }
                }),
            )
            .await,
        );
    }
    if want("operator_search") {
        let (h, b, t) = (http.clone(), base.clone(), op_token.clone());
        let prefixes = Arc::new(search_prefixes);
        results.push(
            phase(
                "operator search by order number",
                conns,
                secs,
                call(move |c, n| {
                    let q = prefixes
                        .get((c * 7 + n as usize) % prefixes.len().max(1))
                        .cloned()
                        .unwrap_or_default();
                    let (h, b, t) = (h.clone(), b.clone(), t.clone());
                    async move {
                        let r = check(
                            h.get(format!("{b}/api/v1/orders?q={q}"))
                                .bearer_auth(t)
                                .send()
                                .await,
                        )
                        .await?;
                        let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
                        if v["total"].as_i64().unwrap_or(0) == 0 {
                            return Err(format!("search {q} found nothing"));
                        }
                        Ok(())
                    }
                }),
            )
            .await,
        );
    }
    if want("submission") {
        let (h, b, ap) = (http.clone(), base.clone(), applicants.clone());
        let scan = Arc::new(scan_500k(&a.scan)?);
        results.push(
            phase(
                "submission: create + 3 × 500 KB uploads + submit",
                wconns,
                secs,
                call(move |c, n| {
                    let (h, b, t, scan) = (
                        h.clone(),
                        b.clone(),
                        ap[c % ap.len()].0.clone(),
                        scan.clone(),
                    );
                    async move { submission(&h, &b, &t, c, n, &scan).await }
                }),
            )
            .await,
        );
    }
    if want("payment_notify") {
        let (h, b, g, pays) = (
            http.clone(),
            base.clone(),
            gateway.clone(),
            payments.clone(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        results.push(
            phase(
                "payment notification (signed, → 已支付)",
                wconns,
                secs,
                call(move |_, _| {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (h, b) = (h.clone(), b.clone());
                    let body = pays.get(i).map(|p| {
                        g.notify_body(
                            p.id,
                            p.amount,
                            &format!("BENCH{}", p.id),
                            &Timestamp(now_secs()).beijing(),
                        )
                    });
                    async move {
                        let Some(body) = body else {
                            return Err("exhausted".into());
                        };
                        let r = h
                            .post(format!("{b}/api/v1/payments/sandbox/notify"))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(body)
                            .send()
                            .await;
                        check(r).await.map(|_| ())
                    }
                }),
            )
            .await,
        );
    }
    let (peak, rss) = memory_mb(server.0.id());
    drop(server);

    let backend = if url.starts_with("sqlite:") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    println!("| backend | scenario | connections | requests | errors | req/s | p50 ms | p99 ms |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &results {
        println!(
            "| {backend} | {} | {} | {} | {} | {:.0} | {:.2} | {:.2} |",
            r.name,
            r.conns,
            r.ok,
            r.errors,
            r.ok as f64 / r.secs,
            r.p50_ms,
            r.p99_ms
        );
    }
    println!();
    println!("{backend}: {total} orders; server peak RSS {peak:.0} MB (now {rss:.0} MB)");
    for r in &results {
        if let Some(e) = &r.first_error {
            println!("first error in {}: {e}", r.name);
        }
    }
    Ok(if results.iter().any(|r| r.errors > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One complete 续期 submission as a client makes it: create, the three scans, submit.
async fn submission(
    h: &reqwest::Client,
    b: &str,
    t: &str,
    c: usize,
    n: u64,
    scan: &[u8],
) -> Result<(), String> {
    // A person's 新办 of two seals: its three documents are the ID card's two sides and the stamped 印模采集表
    // (the scan carries two impressions), so every submission has its form read as in production. (A 续期, which
    // needs no form, must name a completed order with made seals, which the bulk fill does not make.)
    let body = json!({
        "project": project_code(c % PROJECTS),
        "service": "new",
        "holder": {
            "kind": "person", "applicant_name": format!("压测{c}-{n}"), "id_number": "11010519491231002X",
            "mobile": "13900139000"
        },
        "seals": [{"kind": "legal_representative", "count": 2}],
        "months": 12
    });
    let o: serde_json::Value = check(
        h.post(format!("{b}/api/v1/orders"))
            .bearer_auth(t)
            .json(&body)
            .send()
            .await,
    )
    .await?
    .json()
    .await
    .map_err(|e| e.to_string())?;
    let id = o["id"].as_str().ok_or("no id")?.to_owned();
    for kind in ["id_front", "id_back", "impression_form"] {
        let part = reqwest::multipart::Part::bytes(scan.to_vec())
            .file_name(format!("{kind}.jpg"))
            .mime_str("image/jpeg")
            .map_err(|e| e.to_string())?;
        let form = reqwest::multipart::Form::new()
            .text("kind", kind)
            .part("file", part);
        check(
            h.post(format!("{b}/api/v1/orders/{id}/uploads"))
                .bearer_auth(t)
                .multipart(form)
                .send()
                .await,
        )
        .await?;
    }
    check(
        h.post(format!("{b}/api/v1/orders/{id}/submit"))
            .bearer_auth(t)
            .json(&json!({}))
            .send()
            .await,
    )
    .await?;
    Ok(())
}
