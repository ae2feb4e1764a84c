//! 审核预检: the machine's checks of a submitted order, done before a reviewer looks — check digits, the
//! certificate on the holder's key, OCR of the licence and ID card scans, the impressions on the 印模采集表 and
//! their ink, and open orders of the same holder. They run in the background after each submission and are kept
//! (migration 0025); a reviewer who opens the order first has them run on that view. A check that cannot be done
//! ends as "无法核验" with its reason, never as passed.

use sealdesk_domain::precheck::{
    self, InkColour, Outcome, Precheck, expected_ink, find_credit_code, find_id_number, same_name,
    text_has_name,
};
use sealdesk_domain::{HolderKind, Order, OrderState, UploadKind, validate};

use crate::{App, AppError, Principal, Who};

/// States of an order still under way, for the duplicate check (a draft is not yet an application).
const OPEN: [OrderState; 6] = [
    OrderState::PendingReview,
    OrderState::Rejected,
    OrderState::PendingPayment,
    OrderState::Paid,
    OrderState::Authorized,
    OrderState::Made,
];

/// How long a page waits for the background pre-checks of a submission before running them itself.
const PRECHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a page view runs the checks itself when no background run answered: with [`PRECHECK_WAIT`], well
/// inside the server's request timeout, so that a busy server shows the page (checks pending) rather than none.
const PRECHECK_INLINE: std::time::Duration = std::time::Duration::from_secs(12);

/// 审核预检 workers per process by default: as many as Tesseract runs at once, so the queue feeds the OCR
/// without piling up runs that wait for it.
pub const DEFAULT_PRECHECK_WORKERS: usize = sealdesk_adapters::ocr::OCR_AT_ONCE;
/// How long a worker holds a claimed submission: longer than a run can take (a few scans at the OCR timeout
/// each), so a live worker is never overtaken; a dead one's claim is taken over when it runs out.
pub const PRECHECK_LEASE_SECS: i64 = 300;
/// How often an idle worker looks for checks that other instances left (its own instance's submissions wake
/// it at once).
const PRECHECK_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// This process's 审核预检 workers: started once, woken by each submission made here.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    wake: tokio::sync::Notify,
    started: std::sync::OnceLock<()>,
}

/// Why the platform approved an order by itself: said in its trail.
pub const AUTO_APPROVE_RULE: &str = "授权转自动：审核预检全部通过";

/// Whether checks allow 授权转自动: every one passed, except the certificate checks before a key was read.
fn auto_approvable(results: &[Precheck]) -> bool {
    !results.is_empty()
        && results.iter().all(|p| {
            p.outcome == Outcome::Pass
                || (p.outcome == Outcome::Unknown
                    && p.check.starts_with("cert_")
                    && p.detail == NO_KEY_YET)
        })
}

/// The certificate checks' answer before any key of the holder was read.
const NO_KEY_YET: &str = "尚未读取 UKey 证书";

fn pass(check: &str, detail: impl Into<String>) -> Precheck {
    Precheck::new(check, Outcome::Pass, detail)
}
fn fail(check: &str, detail: impl Into<String>) -> Precheck {
    Precheck::new(check, Outcome::Fail, detail)
}
fn unknown(check: &str, detail: impl Into<String>) -> Precheck {
    Precheck::new(check, Outcome::Unknown, detail)
}

fn ink_of(ink: sealdesk_artwork::SealInk) -> InkColour {
    match ink {
        sealdesk_artwork::SealInk::Red => InkColour::Red,
        sealdesk_artwork::SealInk::Blue => InkColour::Blue,
        sealdesk_artwork::SealInk::Purple => InkColour::Purple,
    }
}

impl App {
    /// After a submission has committed: puts the order's checks for it on the queue and wakes a worker of
    /// this process (if it has any; otherwise another instance's worker finds them at its next poll).
    pub(crate) async fn schedule_prechecks(&self, order: &Order) {
        if let Err(e) = self.store.reset_prechecks(order.id, order.version).await {
            // The page view runs them then.
            tracing::warn!(order = order.id, error = %e, "could not reset the pre-checks");
            return;
        }
        self.start_precheck_workers();
        self.precheck_queue.wake.notify_one();
    }

    /// Starts this process's [`AppConfig::precheck_workers`](crate::AppConfig) 审核预检 workers, once; with 0
    /// it starts none. `serve` calls it at start, so that checks a stopped instance left are taken up; the
    /// first submission starts them otherwise. Each worker claims one due submission at a time
    /// ([`PRECHECK_LEASE_SECS`]), runs its checks, and waits for the next submission or poll.
    pub fn start_precheck_workers(&self) {
        let n = self.cfg.precheck_workers;
        if n == 0 || self.precheck_queue.started.set(()).is_err() {
            return;
        }
        for _ in 0..n {
            let app = self.clone();
            tokio::spawn(async move { app.precheck_worker().await });
        }
    }

    async fn precheck_worker(self) {
        loop {
            match self.run_next_precheck().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "pre-check queue"),
            }
            tokio::select! {
                _ = self.precheck_queue.wake.notified() => {}
                _ = tokio::time::sleep(PRECHECK_POLL) => {}
            }
        }
    }

    /// Claims the oldest due submission and runs its checks; false when none is due. A run that fails leaves
    /// its claim to run out, and a worker (of any instance) tries again then.
    pub async fn run_next_precheck(&self) -> Result<bool, AppError> {
        let Some((id, version)) = self
            .store
            .claim_due_prechecks(self.now(), PRECHECK_LEASE_SECS, 1)
            .await?
            .pop()
        else {
            return Ok(false);
        };
        if let Err(e) = self.run_prechecks(id, version).await {
            tracing::warn!(order = id, error = %e, "pre-checks failed");
        }
        Ok(true)
    }

    /// The pre-check results of an order for an operator who serves it: `None` for an order never submitted;
    /// run now if they are due (the background run has not finished, or the order was submitted before the
    /// checks existed).
    pub async fn prechecks(&self, who: &Who, id: i64) -> Result<Option<Vec<Precheck>>, AppError> {
        if !matches!(who.principal, Principal::Operator { .. }) {
            return Err(AppError::Forbidden("只有操作员可以查看预检结果".into()));
        }
        let order = self.visible_order(who, id).await?;
        match self.store.prechecks(id).await? {
            Some(s) => match s.results {
                Some(r) => Ok(Some(r)),
                None => {
                    // The background run of this submission is under way: wait for it rather than run the same
                    // OCR a second time beside it; one that never ends (a restarted server) is done here.
                    let deadline = tokio::time::Instant::now() + PRECHECK_WAIT;
                    while tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        if let Some(r) = self.store.prechecks(id).await?.and_then(|s| s.results) {
                            return Ok(Some(r));
                        }
                    }
                    match tokio::time::timeout(
                        PRECHECK_INLINE,
                        self.run_prechecks(id, s.submitted_version),
                    )
                    .await
                    {
                        Ok(r) => r.map(Some),
                        Err(_) => Ok(Some(vec![unknown(
                            "pending",
                            "审核预检仍在进行（识别扫描件需要一些时间），请稍后刷新页面查看",
                        )])),
                    }
                }
            },
            None if order.state == OrderState::Draft => Ok(None),
            None => {
                self.store.reset_prechecks(id, order.version).await?;
                self.run_prechecks(id, order.version).await.map(Some)
            }
        }
    }

    /// Runs the checks of the submission at `version` and stores them (unless the order was resubmitted since).
    async fn run_prechecks(&self, id: i64, version: i64) -> Result<Vec<Precheck>, AppError> {
        let order = self.store.order(id).await?;
        let results = self.compute_prechecks(&order).await?;
        self.store
            .put_prechecks(id, version, &results, &self.now_text())
            .await?;
        if let Err(e) = self.auto_approve(id, version, &results).await {
            tracing::warn!(order = id, error = %e, "授权转自动: could not approve");
        }
        Ok(results)
    }

    /// 授权转自动: in a project that has the switch on, the platform approves a submission whose checks all
    /// passed, unless it needs a 二次审核 or was changed since. The checks of the holder's certificate may still be
    /// "could not check" before any key was read: 授权 itself refuses a certificate that does not name the holder.
    async fn auto_approve(
        &self,
        id: i64,
        version: i64,
        results: &[Precheck],
    ) -> Result<(), AppError> {
        if !auto_approvable(results) {
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        let mut order = tx.order(id).await?;
        if order.state != OrderState::PendingReview || order.version != version {
            return Ok(());
        }
        let project = self.store.project(order.project_id).await?;
        if !project.auto_approve
            || order
                .seals
                .iter()
                .any(|l| project.second_approval.contains(&l.kind))
        {
            return Ok(());
        }
        let platform = Who {
            principal: Principal::Platform,
            ip: String::new(),
        };
        self.apply(
            &mut tx,
            &platform,
            &mut order,
            sealdesk_domain::Actor::Operator,
            &sealdesk_domain::Event::Approve,
            serde_json::json!({"auto": true, "rule": AUTO_APPROVE_RULE}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn compute_prechecks(&self, order: &Order) -> Result<Vec<Precheck>, AppError> {
        let h = &order.holder;
        let enterprise = h.kind == Some(HolderKind::Enterprise);
        let mut out = Vec::new();
        if enterprise {
            out.push(match validate::credit_code(&h.credit_code) {
                Ok(c) => pass("credit_code_digits", format!("{c} 校验位正确")),
                Err(e) => fail("credit_code_digits", e),
            });
        }
        out.push(match validate::id_number(&h.id_number, self.today()) {
            Ok(_) => pass("id_number_digits", "身份证号码校验位正确"),
            Err(e) => fail("id_number_digits", e),
        });
        let same_holder = self.same_holder_orders(order).await?;
        out.extend(self.cert_checks(order, &same_holder));
        let uploads = self.store.uploads(order.id).await?;
        let upload = |k: UploadKind| {
            uploads
                .iter()
                .find(|u| u.kind == k)
                .map(|u| u.blob_key.clone())
        };
        // The three scans are read side by side, so that a reviewer who opens the order before the background
        // run is done waits for the slowest one, not for the sum.
        let licence = async {
            if !enterprise {
                return Vec::new();
            }
            match upload(UploadKind::Licence) {
                None => vec![
                    unknown("licence_ocr_credit_code", "未上传营业执照扫描件"),
                    unknown("licence_ocr_name", "未上传营业执照扫描件"),
                ],
                Some(k) => self.licence_checks(order, &k).await,
            }
        };
        let id_card = async {
            match upload(UploadKind::IdFront) {
                None => vec![
                    unknown("id_ocr_name", "未上传身份证人像面扫描件"),
                    unknown("id_ocr_number", "未上传身份证人像面扫描件"),
                ],
                Some(k) => self.id_card_checks(order, &k).await,
            }
        };
        let impressions = async {
            if !order.service.needs_impression() {
                return Vec::new();
            }
            match upload(UploadKind::ImpressionForm) {
                None => vec![
                    unknown("impression_count", "未上传印模采集表"),
                    unknown("ink_colour", "未上传印模采集表"),
                ],
                Some(k) => self.impression_checks(order, &k).await,
            }
        };
        let (a, b, c) = tokio::join!(licence, id_card, impressions);
        out.extend(a);
        out.extend(b);
        out.extend(c);
        out.push(duplicate_check(order, &same_holder));
        Ok(out)
    }

    /// Other orders of the order's holder (same 统一社会信用代码, or for a person the same 身份证号码), newest
    /// first: looked up by the holder's blind index (`Store::holder_orders`), one index range however many
    /// orders the platform holds. The holder key itself decides: an index collision could not make a match.
    async fn same_holder_orders(&self, order: &Order) -> Result<Vec<Order>, AppError> {
        let Some(mine) = precheck::holder_key(&order.holder) else {
            return Ok(Vec::new());
        };
        Ok(self
            .store
            .holder_orders(order)
            .await?
            .into_iter()
            .filter(|o| o.id != order.id && precheck::holder_key(&o.holder).as_ref() == Some(&mine))
            .collect())
    }

    /// The holder's details against the certificate on their key: the one bound to this order, else the latest
    /// bound at 授权 to an order of the same holder.
    fn cert_checks(&self, order: &Order, same_holder: &[Order]) -> Vec<Precheck> {
        let h = &order.holder;
        let enterprise = h.kind == Some(HolderKind::Enterprise);
        let names: &[&str] = if enterprise {
            &["cert_credit_code", "cert_enterprise_name"]
        } else {
            &["cert_person"]
        };
        let bound = order
            .key
            .as_ref()
            .or_else(|| same_holder.iter().find_map(|o| o.key.as_ref()));
        let cert = bound.and_then(|k| {
            hex::decode(&k.cert_der_hex)
                .ok()
                .and_then(|d| sealdesk_pki::Cert::from_der(&d).ok())
        });
        let Some(cert) = cert else {
            let why = if bound.is_some() {
                "绑定的证书无法解析"
            } else {
                NO_KEY_YET
            };
            return names.iter().map(|c| unknown(c, why)).collect();
        };
        let values = cert.subject_values();
        let shown = cert.common_name().unwrap_or_else(|| cert.subject());
        if enterprise {
            let typed = validate::credit_code(&h.credit_code).unwrap_or_default();
            let code = match values.iter().find_map(|v| find_credit_code(v)) {
                None => unknown("cert_credit_code", "证书中没有统一社会信用代码"),
                Some(c) if c == typed => pass("cert_credit_code", format!("证书中为 {c}，一致")),
                Some(c) => fail(
                    "cert_credit_code",
                    format!("证书中的统一社会信用代码为{c}，与填写的不符"),
                ),
            };
            let name = if values.iter().any(|v| same_name(v, &h.enterprise_name)) {
                pass("cert_enterprise_name", format!("证书为「{shown}」，一致"))
            } else {
                fail(
                    "cert_enterprise_name",
                    format!(
                        "证书为「{shown}」，与填写的企业名称「{}」不符",
                        h.enterprise_name
                    ),
                )
            };
            vec![code, name]
        } else {
            let id = h.id_number.trim().to_uppercase();
            let has_id = !id.is_empty() && values.iter().any(|v| v.to_uppercase().contains(&id));
            let has_name = values.iter().any(|v| same_name(v, &h.applicant_name));
            vec![if has_id && has_name {
                pass(
                    "cert_person",
                    format!("证书为「{shown}」，姓名与身份证号码一致"),
                )
            } else {
                fail(
                    "cert_person",
                    format!("证书为「{shown}」，与填写的姓名或身份证号码不符"),
                )
            }]
        }
    }

    /// The text OCR reads in an uploaded scan, or why it cannot be read.
    async fn ocr_upload(&self, blob_key: &str) -> Result<String, String> {
        let bytes = self
            .blobs
            .get(blob_key)
            .await
            .map_err(|e| format!("读取扫描件失败：{e}"))?;
        self.ocr.read(&bytes).await.map_err(|e| e.to_string())
    }

    async fn licence_checks(&self, order: &Order, blob_key: &str) -> Vec<Precheck> {
        let h = &order.holder;
        let text = match self.ocr_upload(blob_key).await {
            Ok(t) => t,
            Err(why) => {
                return vec![
                    unknown("licence_ocr_credit_code", why.clone()),
                    unknown("licence_ocr_name", why),
                ];
            }
        };
        let typed = validate::credit_code(&h.credit_code).unwrap_or_else(|_| h.credit_code.clone());
        let read = find_credit_code(&text);
        let code = match &read {
            None => unknown(
                "licence_ocr_credit_code",
                "未能从营业执照扫描件中识别出统一社会信用代码",
            ),
            Some(c) if *c == typed => pass(
                "licence_ocr_credit_code",
                format!("识别为 {c}，与填写的一致"),
            ),
            Some(c) => fail(
                "licence_ocr_credit_code",
                precheck::licence_code_mismatch(c),
            ),
        };
        let name = name_check(
            "licence_ocr_name",
            &text,
            &h.enterprise_name,
            read.is_some(),
            "营业执照",
        );
        vec![code, name]
    }

    async fn id_card_checks(&self, order: &Order, blob_key: &str) -> Vec<Precheck> {
        let h = &order.holder;
        let text = match self.ocr_upload(blob_key).await {
            Ok(t) => t,
            Err(why) => {
                return vec![
                    unknown("id_ocr_name", why.clone()),
                    unknown("id_ocr_number", why),
                ];
            }
        };
        let read = find_id_number(&text, self.today());
        let typed = h.id_number.trim().to_uppercase();
        let number = match &read {
            None => unknown("id_ocr_number", "未能从身份证扫描件中识别出身份证号码"),
            Some(n) if *n == typed => pass("id_ocr_number", "识别的身份证号码与填写的一致"),
            Some(_) => fail("id_ocr_number", "证件识别身份证号码与最终填写的不符"),
        };
        let name = name_check(
            "id_ocr_name",
            &text,
            &h.applicant_name,
            read.is_some(),
            "身份证",
        );
        vec![name, number]
    }

    /// Impressions found on the 印模采集表 against the seals ordered, and each one's ink against its kind.
    async fn impression_checks(&self, order: &Order, blob_key: &str) -> Vec<Precheck> {
        let units = order.form_units();
        let found = async {
            let bytes = self
                .blobs
                .get(blob_key)
                .await
                .map_err(|e| format!("读取印模采集表失败：{e}"))?;
            let _permit = self.image_work.acquire().await.map_err(|e| e.to_string())?;
            tokio::task::spawn_blocking(move || {
                match sealdesk_artwork::extract(
                    &bytes,
                    &sealdesk_artwork::ExtractOptions::default(),
                ) {
                    Ok(found) => Ok(found.into_iter().map(|i| ink_of(i.ink)).collect::<Vec<_>>()),
                    Err(
                        sealdesk_artwork::Error::NoImpression | sealdesk_artwork::Error::EmptyPage,
                    ) => Ok(Vec::new()),
                    Err(e) => Err(format!("无法分析印模采集表：{e}")),
                }
            })
            .await
            .map_err(|e| e.to_string())?
        }
        .await;
        let inks = match found {
            Ok(i) => i,
            Err(why) => {
                return vec![
                    unknown("impression_count", why.clone()),
                    unknown("ink_colour", why),
                ];
            }
        };
        let count = if inks.len() == units.len() {
            pass(
                "impression_count",
                format!("找到 {} 枚印章，与申请的数量一致", inks.len()),
            )
        } else {
            fail(
                "impression_count",
                format!(
                    "印模采集表上找到 {} 枚印章，订单申请 {} 枚",
                    inks.len(),
                    units.len()
                ),
            )
        };
        let mut wrong = Vec::new();
        let mut compared = 0;
        for (i, (ink, (kind, _))) in inks.iter().zip(&units).enumerate() {
            let Some(want) = expected_ink(*kind) else {
                continue;
            };
            compared += 1;
            if *ink != want {
                wrong.push(format!(
                    "第 {} 枚为{}，「{}」应为{}",
                    i + 1,
                    ink.label(),
                    kind.label(),
                    want.label()
                ));
            }
        }
        let colour = if !wrong.is_empty() {
            fail("ink_colour", wrong.join("；"))
        } else if compared == 0 {
            unknown("ink_colour", "没有可比对颜色的印章")
        } else {
            pass(
                "ink_colour",
                format!("{compared} 枚印章的印油颜色与印章类型相符"),
            )
        };
        vec![count, colour]
    }
}

/// A name looked for in OCR text. Found: pass. Not found in text that was legible (its code or number was read):
/// fail, for the reviewer to compare by eye. Not found in text that yielded nothing: could not check.
fn name_check(check: &str, text: &str, name: &str, legible: bool, scan: &str) -> Precheck {
    if text_has_name(text, name) {
        pass(check, format!("识别文字中有「{name}」"))
    } else if legible {
        fail(
            check,
            format!("{scan}识别文字中没有「{name}」，请与扫描件核对"),
        )
    } else {
        unknown(check, format!("未能从{scan}扫描件中识别出文字"))
    }
}

/// Open orders of the same holder. Those of the order's own project are named (whoever reviews this order sees
/// that project); those of other projects are only counted, since the reviewer's groups may not cover them.
fn duplicate_check(order: &Order, same_holder: &[Order]) -> Precheck {
    let open: Vec<&Order> = same_holder
        .iter()
        .filter(|o| OPEN.contains(&o.state) && Some(o.id) != order.previous_order)
        .collect();
    let named: Vec<String> = open
        .iter()
        .filter(|o| o.project_id == order.project_id)
        .map(|o| format!("{}（{}）", o.order_no, o.state.label()))
        .collect();
    let elsewhere = open.len() - named.len();
    match (named.is_empty(), elsewhere) {
        (true, 0) => pass("duplicate_orders", "没有同一持有人的其他未完成订单"),
        (false, 0) => fail(
            "duplicate_orders",
            format!("同一持有人还有未完成的订单：{}", named.join("、")),
        ),
        (true, n) => fail(
            "duplicate_orders",
            format!("同一持有人在其他授权单位还有 {n} 个未完成的订单"),
        ),
        (false, n) => fail(
            "duplicate_orders",
            format!(
                "同一持有人还有未完成的订单：{}；在其他授权单位另有 {n} 个",
                named.join("、")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealdesk_domain::precheck::Outcome;
    use sealdesk_store::testing::order_in;

    /// A reviewer sees the numbers of the holder's open orders in this order's project only; those of projects
    /// their groups may not cover are counted.
    #[tokio::test]
    async fn open_orders_of_other_projects_are_counted_not_named() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = sealdesk_store::Store::connect(&url, 1).await.unwrap();
        let this = order_in(&store, "AAA", "13800138000", OrderState::PendingReview).await;
        let alone = duplicate_check(&this, &[]);
        assert_eq!(
            (alone.outcome, alone.detail.as_str()),
            (Outcome::Pass, "没有同一持有人的其他未完成订单")
        );
        let elsewhere = order_in(&store, "BBB", "13800138000", OrderState::PendingPayment).await;
        let r = duplicate_check(&this, &[elsewhere.clone()]);
        assert_eq!(
            (r.outcome, r.detail.as_str()),
            (
                Outcome::Fail,
                "同一持有人在其他授权单位还有 1 个未完成的订单"
            )
        );
        let here = order_in(&store, "AAA", "13800138000", OrderState::Rejected).await;
        let r = duplicate_check(&this, &[here.clone(), elsewhere]);
        assert_eq!(
            (r.outcome, r.detail),
            (
                Outcome::Fail,
                format!(
                    "同一持有人还有未完成的订单：{}（审核不通过）；在其他授权单位另有 1 个",
                    here.order_no
                )
            )
        );
        store.close().await;
    }
}
