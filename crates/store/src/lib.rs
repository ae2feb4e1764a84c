//! SealDesk's data layer: the only crate that speaks SQL.
//!
//! One [`Store`] over sqlx's `Any` driver serves both backends: SQLite (the embedded default, one file, WAL) and
//! PostgreSQL (production). The backend is chosen by the URL scheme; migrations live in `migrations/sqlite` and
//! `migrations/postgres` and describe the same tables. Callers speak domain types; no sqlx type leaves this
//! crate.
//!
//! Invariants:
//! - an order's state changes only in a [`StoreTx`] that also appends its audit entry, so the log and the data
//!   never disagree, and the write is refused ([`StoreError::Conflict`]) if the order changed since it was read;
//! - the audit log is append-only: triggers in both dialects refuse UPDATE and DELETE, and every entry carries
//!   the SM3 hash of the previous one ([`sealdesk_domain::AuditRecord`]).
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod audit_query;
mod dashboard;
mod delivery;
mod finance;
mod limits;
mod messages;
mod ops;
mod pii;
mod prechecks;
mod projects;
mod reasons;
mod records;
mod search;

use sealdesk_domain::{
    AuditRecord, ChainHead, ChainPos, Checkpoint, Fen, Order, OrderIdGen, OrderState, SealKind,
    Timestamp,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};

pub use audit_query::AuditFilter;
pub use delivery::*;
pub use finance::{MailDelivery, MailDraft};
pub use messages::{OrderMessage, WaitingThread};
pub use ops::{PlanArg, Stats, database_is_blank};
pub use pii::{
    DataKey, DataKeys, HOLDER_ORDERS_MAX, IndexKey, KeyError, OpenError, PiiKeys, Reencrypted,
};
pub use prechecks::StoredPrechecks;
pub use reasons::RejectReason;
pub use records::*;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a concurrent change refused the write; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else (a bug, a corrupt row).
    #[error("database error: {0}")]
    Other(String),
    /// A sealed personal value could not be opened: its key is not configured, or it was altered or moved.
    #[error("personal data: {0}")]
    Pii(#[from] OpenError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(d.message().to_owned())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Result of store calls.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// The data layer. Cheap to clone: it is a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// One connection of its own for [`Store::ping`], opened on first use.
    health: AnyPool,
    backend: Backend,
    ids: std::sync::Arc<OrderIdGen>,
    /// The key of the audit chain's HMAC-SM3, when configured (production).
    audit_key: Option<AuditKey>,
    /// The keys personal data is sealed with (个人信息加密存储), when configured (`serve` always).
    pii: pii::SharedPii,
}

/// The audit chain's key, shared and wiped from memory when the last store drops it.
type AuditKey = std::sync::Arc<zeroize::Zeroizing<Vec<u8>>>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Current Unix milliseconds.
fn now_ms() -> i64 {
    sealdesk_domain::Clock::now_ms(&sealdesk_domain::SystemClock)
}

/// Hides the password of a database URL, for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`), creating a SQLite file if needed, and runs the
    /// migrations. `instance` distinguishes id generators of several server instances (0..1024).
    pub async fn connect(url: &str, instance: u16) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Other(format!(
                "unsupported database URL {}: use sqlite://PATH or postgres://…",
                redact_url(url)
            )));
        };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let opts = AnyPoolOptions::new().acquire_timeout(std::time::Duration::from_secs(10));
        let pool = match backend {
            // One writer at a time is SQLite's model; a small pool keeps readers concurrent under WAL and
            // transactions start IMMEDIATE (see `begin`) so writers queue instead of failing on upgrade.
            // `synchronous = FULL`: every commit fsyncs the WAL before it returns, so an order or a payment
            // acknowledged to a client survives a power cut as well as a killed process. NORMAL (fsync only at
            // checkpoints) survives a killed process but may lose the last commits on power loss, which a
            // payment platform cannot accept; FULL costs one fsync per commit (docs/deployment.md).
            Backend::Sqlite => opts
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA synchronous = FULL",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", redact_url(&url))))?,
            Backend::Postgres => opts
                .max_connections(16)
                .connect(&url)
                .await
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", redact_url(&url))))?,
        };
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        // A database that has every migration is not touched: the production server runs as a role without DDL
        // rights (migrations are run once by the owner role), and even `CREATE TABLE IF NOT EXISTS` needs those.
        // Every version is looked for, not only the newest: a branch that lands after another may bring a
        // migration numbered below one a database already has, and it must still run there.
        let applied: Vec<i64> = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&pool)
            .await
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r.try_get("version").ok())
                    .collect()
            })
            .unwrap_or_default();
        if migrator.iter().any(|m| !applied.contains(&m.version)) {
            migrator
                .run(&pool)
                .await
                .map_err(|e| StoreError::Other(format!("migration: {e}")))?;
        }
        // `/healthz` asks whether the database answers, not whether a connection of the pool is free: behind a
        // flood of writes (each holding a connection through its fsync, or asleep in SQLite's busy handler)
        // the pool's queue made the probe late, and an orchestrator may restart a busy, healthy instance.
        let health = AnyPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(std::time::Duration::from_secs(5));
        let health = match backend {
            Backend::Sqlite => health.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 2000")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => health,
        }
        .connect_lazy(&url)
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", redact_url(&url))))?;
        Ok(Store {
            pool,
            health,
            backend,
            ids: std::sync::Arc::new(OrderIdGen::new(instance)),
            audit_key: None,
            pii: None,
        })
    }

    /// The store whose audit entries are chained with HMAC-SM3 under `key` (at least 32 bytes), and verified so.
    /// Someone who can write to the database but does not hold the key cannot rewrite an entry and re-hash the
    /// chain after it unseen.
    pub fn with_audit_key(mut self, key: Vec<u8>) -> Result<Store> {
        let key = zeroize::Zeroizing::new(key);
        if key.len() < 32 {
            return Err(StoreError::Other(
                "the audit key must be at least 32 bytes".into(),
            ));
        }
        self.audit_key = Some(std::sync::Arc::new(key));
        Ok(self)
    }

    /// Whether audit entries are keyed.
    pub fn audit_keyed(&self) -> bool {
        self.audit_key.is_some()
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A fresh unique, time-ordered id.
    pub fn next_id(&self) -> i64 {
        self.ids.next_id(now_ms())
    }

    /// This store minting ids as instance number `instance` (one leased with
    /// [`Store::lease_instance_number`], when several instances share the database).
    #[must_use]
    pub fn with_instance(mut self, instance: u16) -> Store {
        self.ids = std::sync::Arc::new(OrderIdGen::new(instance));
        self
    }

    /// The most connections the pool opens (16 on PostgreSQL, 4 on SQLite); [`Store::ping`] has one more.
    pub fn max_connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }

    /// Closes the pools.
    pub async fn close(&self) {
        self.health.close().await;
        self.pool.close().await;
    }

    /// Starts a transaction. On SQLite it takes the write lock at once, so that two writers queue on
    /// `busy_timeout` rather than one failing when its read turns into a write.
    pub async fn begin(&self) -> Result<StoreTx> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(StoreTx {
            tx,
            backend: self.backend,
            audit_key: self.audit_key.clone(),
            pii: self.pii.clone(),
        })
    }

    /// Whether the database answers (for `/healthz`), through a connection no request waits for. On SQLite it
    /// reads the schema, so the file itself is read (`SELECT 1` would not touch it); under WAL that read does
    /// not wait for writers.
    pub async fn ping(&self) -> Result<()> {
        let probe = match self.backend {
            Backend::Sqlite => "SELECT count(*) FROM sqlite_master",
            Backend::Postgres => "SELECT 1",
        };
        sqlx::query(probe).execute(&self.health).await?;
        Ok(())
    }

    // ---- projects, groups, operators, applicants ----

    /// Creates an operator group.
    pub async fn create_group(&self, name: &str) -> Result<Group> {
        let g = Group {
            id: self.next_id(),
            name: name.to_owned(),
        };
        sqlx::query("INSERT INTO operator_groups (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(g.id)
            .bind(&g.name)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(g)
    }

    /// The group called `name`.
    pub async fn group_by_name(&self, name: &str) -> Result<Group> {
        let row = sqlx::query("SELECT id, name FROM operator_groups WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(Group {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
        })
    }

    /// Every group.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        let rows = sqlx::query("SELECT id, name FROM operator_groups ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Group {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Creates a project (授权单位) served by `group_id`.
    pub async fn create_project(
        &self,
        code: &str,
        name: &str,
        price: Fen,
        group_id: Option<i64>,
    ) -> Result<Project> {
        let p = Project {
            id: self.next_id(),
            code: code.into(),
            name: name.into(),
            price,
            group_id,
            second_approval: Vec::new(),
            contact: String::new(),
            seal_sizes: Vec::new(),
            auto_approve: false,
        };
        sqlx::query(
            "INSERT INTO projects (id, code, name, price_fen_per_seal_year, group_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id)
        .bind(&p.code)
        .bind(&p.name)
        .bind(p.price.0)
        .bind(p.group_id)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(p)
    }

    /// One project.
    pub async fn project(&self, id: i64) -> Result<Project> {
        let row = sqlx::query(
            "SELECT id, code, name, price_fen_per_seal_year, group_id, second_approval_kinds, contact, seal_sizes, auto_approve FROM projects WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        project_from_row(&row)
    }

    /// The project with `code`.
    pub async fn project_by_code(&self, code: &str) -> Result<Project> {
        let row = sqlx::query(
            "SELECT id, code, name, price_fen_per_seal_year, group_id, second_approval_kinds, contact, seal_sizes, auto_approve FROM projects WHERE code = $1",
        )
        .bind(code)
        .fetch_one(&self.pool)
        .await?;
        project_from_row(&row)
    }

    /// Sets the seal kinds whose orders in project `id` need a second approval (二次审核).
    pub async fn set_second_approval(&self, id: i64, kinds: &[SealKind]) -> Result<()> {
        let codes: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
        let done = sqlx::query("UPDATE projects SET second_approval_kinds = $2 WHERE id = $1")
            .bind(id)
            .bind(codes.join(","))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Every project, by name.
    pub async fn list_projects(&self) -> Result<Vec<Project>> {
        let rows = sqlx::query(
            "SELECT id, code, name, price_fen_per_seal_year, group_id, second_approval_kinds, contact, seal_sizes, auto_approve FROM projects ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(project_from_row).collect()
    }

    /// Creates an operator with an already-hashed password: a reviewer, or a super-administrator.
    pub async fn create_operator(
        &self,
        name: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<Operator> {
        self.create_operator_with_roles(
            name,
            password_hash,
            is_admin,
            sealdesk_domain::Roles::only(sealdesk_domain::Role::Reviewer),
        )
        .await
    }

    /// Creates an operator with an already-hashed password and the given roles.
    pub async fn create_operator_with_roles(
        &self,
        name: &str,
        password_hash: &str,
        is_admin: bool,
        roles: sealdesk_domain::Roles,
    ) -> Result<Operator> {
        let o = Operator {
            id: self.next_id(),
            name: name.into(),
            password_hash: password_hash.into(),
            is_admin,
            roles,
        };
        sqlx::query("INSERT INTO operators (id, name, password_hash, is_admin, roles, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(o.id)
            .bind(&o.name)
            .bind(&o.password_hash)
            .bind(i32::from(is_admin))
            .bind(roles.codes())
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(o)
    }

    /// Sets an operator's roles.
    pub async fn set_operator_roles(&self, id: i64, roles: sealdesk_domain::Roles) -> Result<()> {
        let r = sqlx::query("UPDATE operators SET roles = $1 WHERE id = $2")
            .bind(roles.codes())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The operator called `name`.
    pub async fn operator_by_name(&self, name: &str) -> Result<Operator> {
        let row = sqlx::query(
            "SELECT id, name, password_hash, is_admin, roles FROM operators WHERE name = $1",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        operator_from_row(&row)
    }

    /// One operator.
    pub async fn operator(&self, id: i64) -> Result<Operator> {
        let row = sqlx::query(
            "SELECT id, name, password_hash, is_admin, roles FROM operators WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        operator_from_row(&row)
    }

    /// Adds an operator to a group (idempotent).
    pub async fn add_to_group(&self, group_id: i64, operator_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO operator_group_members (group_id, operator_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group_id)
        .bind(operator_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The projects an operator may see: those served by the operator's groups (all of them for an admin).
    pub async fn operator_project_ids(&self, operator: &Operator) -> Result<Vec<i64>> {
        let rows = if operator.is_admin {
            sqlx::query("SELECT id FROM projects")
                .fetch_all(&self.pool)
                .await?
        } else {
            sqlx::query(
                "SELECT p.id FROM projects p JOIN operator_group_members m ON m.group_id = p.group_id WHERE m.operator_id = $1",
            )
            .bind(operator.id)
            .fetch_all(&self.pool)
            .await?
        };
        rows.iter()
            .map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// The applicant with `mobile`, created on first sign-in. With personal data sealed the row is found by the
    /// blind index of the number (or, written before sealing, by the number in clear, and sealed on the way).
    pub async fn applicant_for_mobile(&self, mobile: &str) -> Result<i64> {
        let Some(p) = self.pii.as_deref() else {
            return self.applicant_for_mobile_in_clear(mobile).await;
        };
        let index = p.index().mobile(mobile);
        if let Some(row) = sqlx::query(
            "SELECT id, mobile_index FROM applicants WHERE mobile_index = $1 OR (mobile_index IS NULL AND mobile = $2)",
        )
        .bind(index.as_str())
        .bind(mobile)
        .fetch_optional(&self.pool)
        .await?
        {
            let id: i64 = row.try_get("id")?;
            if row.try_get::<Option<String>, _>("mobile_index")?.is_none() {
                sqlx::query(
                    "UPDATE applicants SET mobile = $1, mobile_index = $2 WHERE id = $3 AND mobile_index IS NULL",
                )
                .bind(p.data().seal_text(&pii::applicant_place(id), mobile, pii::nonce()))
                .bind(index.as_str())
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
            return Ok(id);
        }
        let id = self.next_id();
        sqlx::query("INSERT INTO applicants (id, mobile, mobile_index, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (mobile_index) DO NOTHING")
            .bind(id)
            .bind(p.data().seal_text(&pii::applicant_place(id), mobile, pii::nonce()))
            .bind(index.as_str())
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        // Another request may have won the race: read back whichever row exists.
        let row = sqlx::query("SELECT id FROM applicants WHERE mobile_index = $1")
            .bind(index.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    async fn applicant_for_mobile_in_clear(&self, mobile: &str) -> Result<i64> {
        if let Some(row) = sqlx::query("SELECT id FROM applicants WHERE mobile = $1")
            .bind(mobile)
            .fetch_optional(&self.pool)
            .await?
        {
            return Ok(row.try_get("id")?);
        }
        let id = self.next_id();
        sqlx::query("INSERT INTO applicants (id, mobile, created_at) VALUES ($1, $2, $3) ON CONFLICT (mobile) DO NOTHING")
            .bind(id)
            .bind(mobile)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        // Another request may have won the race: read back whichever row exists.
        let row = sqlx::query("SELECT id FROM applicants WHERE mobile = $1")
            .bind(mobile)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("id")?)
    }

    /// The applicant's mobile number.
    pub async fn applicant_mobile(&self, id: i64) -> Result<String> {
        let row = sqlx::query("SELECT mobile FROM applicants WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        let stored: String = row.try_get("mobile")?;
        pii::open_text(self.pii.as_deref(), &pii::applicant_place(id), &stored)
    }

    // ---- orders ----

    /// One order.
    pub async fn order(&self, id: i64) -> Result<Order> {
        let row = sqlx::query("SELECT body, state, version, total_fen FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        order_from_row(&row, self.pii.as_deref())
    }

    /// The order with number `order_no`.
    pub async fn order_by_no(&self, order_no: &str) -> Result<Order> {
        let row =
            sqlx::query("SELECT body, state, version, total_fen FROM orders WHERE order_no = $1")
                .bind(order_no)
                .fetch_one(&self.pool)
                .await?;
        order_from_row(&row, self.pii.as_deref())
    }

    /// A page of orders, newest first, and how many match in all: exact up to [`ORDER_COUNT_CAP`], and
    /// `ORDER_COUNT_CAP + 1` when more match (pages show `10000+`).
    pub async fn list_orders(&self, f: &OrderFilter) -> Result<(Vec<Order>, i64)> {
        let Some((count_sql, sql, args)) = self.list_sql(f) else {
            return Ok((Vec::new(), 0));
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in &args {
            q = a.bind(q);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let orders = rows
            .iter()
            .map(|r| order_from_row(r, self.pii.as_deref()))
            .collect::<Result<Vec<_>>>()?;
        // A short page that is not empty (or the first page) is the last one, so it gives the total itself: an
        // applicant's list, most searches and every last page skip the count query.
        let offset = f.offset.max(0);
        if page_gives_total(orders.len(), f.limit.clamp(1, 500), offset) {
            let total = offset + orders.len() as i64;
            return Ok((orders, total));
        }
        let mut q = sqlx::query(AssertSqlSafe(count_sql));
        for a in &args {
            q = a.bind(q);
        }
        let total: i64 = q.fetch_one(&self.pool).await?.try_get("n")?;
        Ok((orders, total))
    }

    /// The page of orders `f` selects, without the count of all that match.
    pub async fn order_batch(&self, f: &OrderFilter) -> Result<Vec<Order>> {
        let Some((_, sql, args)) = self.list_sql(f) else {
            return Ok(Vec::new());
        };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in &args {
            q = a.bind(q);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| order_from_row(r, self.pii.as_deref()))
            .collect()
    }

    /// The count and page queries [`Store::list_orders`] runs for `f`, with their arguments; `None` when
    /// nothing can match.
    fn list_sql(&self, f: &OrderFilter) -> Option<(String, String, Vec<Arg>)> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        if let Some(a) = f.applicant_id {
            args.push(Arg::I(a));
            conds.push(format!("applicant_id = ${}", args.len()));
        }
        if let Some(ids) = &f.project_ids {
            if ids.is_empty() {
                return None;
            }
            let mut ph = Vec::new();
            for id in ids {
                args.push(Arg::I(*id));
                ph.push(format!("${}", args.len()));
            }
            conds.push(format!("project_id IN ({})", ph.join(", ")));
        }
        // Every state is no filter: nine bound values that each row would be checked against for nothing.
        let all_states = OrderState::ALL.iter().all(|s| f.states.contains(s));
        if !f.states.is_empty() && !all_states {
            let mut ph = Vec::new();
            for s in &f.states {
                args.push(Arg::S(s.code().to_owned()));
                ph.push(format!("${}", args.len()));
            }
            conds.push(format!("state IN ({})", ph.join(", ")));
        }
        if let Some(q) = f
            .order_no_prefix
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
        {
            // Order numbers are ASCII (`KG-<code>-<digits>`): a prefix search is the byte range
            // [q, q with its last byte + 1), which the order_no index serves on both databases (LIKE would
            // not: SQLite's is case-insensitive and PostgreSQL's needs the C collation).
            if !q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return None;
            }
            let mut hi = q.as_bytes().to_vec();
            if let Some(last) = hi.last_mut() {
                *last += 1;
            }
            let hi = String::from_utf8(hi).ok()?;
            let col = match self.backend {
                Backend::Sqlite => "order_no",
                Backend::Postgres => "(order_no COLLATE \"C\")",
            };
            args.push(Arg::S(q.to_owned()));
            conds.push(format!("{col} >= ${}", args.len()));
            args.push(Arg::S(hi));
            conds.push(format!("{col} < ${}", args.len()));
        }
        if let Some(pattern) = search::like_pattern(f.search.as_deref()) {
            args.push(Arg::S(pattern));
            let like = format!("search_text LIKE ${} ESCAPE '\\'", args.len());
            // A whole mobile number is looked up by its blind index too: sealed orders keep no mobile in their
            // search text (orders written before sealing still match the LIKE).
            match (
                search::mobile_query(f.search.as_deref()),
                self.pii.as_deref(),
            ) {
                (Some(m), Some(p)) => {
                    args.push(Arg::S(p.index().mobile(&m)));
                    conds.push(format!("({like} OR mobile_index = ${})", args.len()));
                }
                _ => conds.push(like),
            }
        }
        if !f.services.is_empty() {
            let mut ph = Vec::new();
            for s in &f.services {
                args.push(Arg::S(s.code().to_owned()));
                ph.push(format!("${}", args.len()));
            }
            conds.push(format!("service IN ({})", ph.join(", ")));
        }
        if let Some(t) = &f.created_from {
            args.push(Arg::S(t.clone()));
            conds.push(format!("created_at >= ${}", args.len()));
        }
        if let Some(t) = &f.created_before {
            args.push(Arg::S(t.clone()));
            conds.push(format!("created_at < ${}", args.len()));
        }
        if let Some(id) = f.id_below {
            args.push(Arg::I(id));
            conds.push(format!("id < ${}", args.len()));
        }
        let where_ = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        // The count stops after ORDER_COUNT_CAP + 1 rows: beyond that nobody pages, and counting the hundreds of
        // thousands of orders an operator's projects hold cost more than the page itself.
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM orders {where_} LIMIT {}) AS capped",
            ORDER_COUNT_CAP + 1
        );
        let order = if f.oldest_first { "ASC" } else { "DESC" };
        let by = match f.sort_by {
            SortKey::Created => String::new(),
            SortKey::Updated => format!("updated_at {order}, "),
            SortKey::Total => format!("total_fen {order}, "),
        };
        let sql = format!(
            "SELECT body, state, version, total_fen FROM orders {where_} ORDER BY {by}id {order} LIMIT {} OFFSET {}",
            f.limit.clamp(1, 500),
            f.offset.max(0)
        );
        Some((count_sql, sql, args))
    }

    /// The query plans of the count and page queries [`Store::list_orders`] runs for `f` (see
    /// [`Store::explain`]); empty when nothing can match.
    pub async fn explain_list(&self, f: &OrderFilter) -> Result<Vec<String>> {
        let Some((count_sql, sql, args)) = self.list_sql(f) else {
            return Ok(Vec::new());
        };
        let args: Vec<PlanArg> = args
            .iter()
            .map(|a| match a {
                Arg::I(i) => PlanArg::Int(*i),
                Arg::S(s) => PlanArg::Text(s.clone()),
            })
            .collect();
        let mut plan = self.explain(&count_sql, &args).await?;
        plan.extend(self.explain(&sql, &args).await?);
        Ok(plan)
    }

    // ---- uploads ----

    /// The current upload of each kind for an order.
    pub async fn uploads(&self, order_id: i64) -> Result<Vec<UploadMeta>> {
        let rows = sqlx::query(
            "SELECT id, order_id, kind, file_name, content_type, size, sm3, blob_key, created_at FROM uploads WHERE order_id = $1 AND current = 1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(upload_from_row).collect()
    }

    /// One upload.
    pub async fn upload(&self, id: i64) -> Result<UploadMeta> {
        let row = sqlx::query(
            "SELECT id, order_id, kind, file_name, content_type, size, sm3, blob_key, created_at FROM uploads WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        upload_from_row(&row)
    }

    // ---- seals ----

    /// The seals made for an order.
    pub async fn seals(&self, order_id: i64) -> Result<Vec<SealRecord>> {
        let rows = sqlx::query(
            "SELECT id, order_id, seq, es_id, kind, name, der, picture_png, valid_start, valid_end, token_serial, revoked, created_at FROM seals WHERE order_id = $1 ORDER BY seq",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(seal_from_row).collect()
    }

    /// 印章有效期 of an order's made seals: the earliest start and the latest end (RFC 3339), without reading the
    /// seals themselves; `None` before any is made.
    pub async fn seal_window(&self, order_id: i64) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT MIN(valid_start) AS first, MAX(valid_end) AS last FROM seals WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_one(&self.pool)
        .await?;
        let first: Option<String> = row.try_get("first")?;
        let last: Option<String> = row.try_get("last")?;
        Ok(first.zip(last))
    }

    /// The live (not revoked) seals bound to a key.
    pub async fn seals_on_token(&self, token_serial: &str) -> Result<Vec<SealRecord>> {
        let rows = sqlx::query(
            "SELECT id, order_id, seq, es_id, kind, name, der, picture_png, valid_start, valid_end, token_serial, revoked, created_at FROM seals WHERE token_serial = $1 AND revoked = 0 ORDER BY id",
        )
        .bind(token_serial)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(seal_from_row).collect()
    }

    /// A seal's standing by esID (any seal this platform made).
    pub async fn seal_standing(&self, es_id: &str) -> Result<Option<SealStanding>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {STANDING_COLS} FROM seals WHERE es_id = $1"
        )))
        .bind(es_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(standing_from_row).transpose()
    }

    /// Every revoked seal, oldest revocation first (the maker's revocation list).
    pub async fn revoked_seals(&self) -> Result<Vec<SealStanding>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {STANDING_COLS} FROM seals WHERE revoked = 1 ORDER BY revoked_at, es_id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(standing_from_row).collect()
    }

    // ---- payments, invoices ----

    /// One payment.
    pub async fn payment(&self, id: i64) -> Result<Payment> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLS} FROM payments WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        payment_from_row(&row)
    }

    /// The order's payments still open (pending) on any channel, oldest first.
    pub async fn open_payments_of(&self, order_id: i64) -> Result<Vec<Payment>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLS} FROM payments WHERE order_id = $1 AND state = 'pending' ORDER BY created_at, id"
        )))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// The open (pending) payment of an order on a channel, or a new one with `id` (which the caller makes
    /// unguessable). A unique index keeps it to one open payment per order and channel even when two requests
    /// race: the loser reads the winner's.
    pub async fn open_payment(
        &self,
        id: i64,
        order_id: i64,
        channel: &str,
        amount: Fen,
    ) -> Result<Payment> {
        let existing = || async {
            let row = sqlx::query(AssertSqlSafe(format!(
                "SELECT {PAYMENT_COLS} FROM payments WHERE order_id = $1 AND channel = $2 AND state = 'pending'"
            )))
            .bind(order_id)
            .bind(channel)
            .fetch_optional(&self.pool)
            .await?;
            row.map(|r| payment_from_row(&r)).transpose()
        };
        if let Some(p) = existing().await?
            && p.amount == amount
        {
            return Ok(p);
        }
        let p = Payment {
            id,
            order_id,
            channel: channel.into(),
            amount,
            state: "pending".into(),
            gateway_txn: None,
            created_at: now_text(),
            ..Payment::default()
        };
        let mut tx = self.pool.begin().await?;
        // An open payment for another amount (the price changed) is superseded, not reused.
        sqlx::query("UPDATE payments SET state = 'superseded' WHERE order_id = $1 AND channel = $2 AND state = 'pending'")
            .bind(order_id)
            .bind(channel)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO payments (id, order_id, channel, amount_fen, state, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id)
        .bind(p.order_id)
        .bind(&p.channel)
        .bind(p.amount.0)
        .bind(&p.state)
        .bind(&p.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                Ok(p)
            }
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    drop(tx);
                    existing().await?.ok_or(StoreError::NotFound)
                }
                other => Err(other),
            },
        }
    }

    /// Payments whose money arrived after their order was cancelled: what finance must refund.
    pub async fn payments_due_refund(&self) -> Result<Vec<Payment>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLS} FROM payments WHERE refund_due = 1 ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(payment_from_row).collect()
    }

    /// The current invoice of an order (not voided), if issued.
    pub async fn invoice(&self, order_id: i64) -> Result<Option<Invoice>> {
        let row = sqlx::query(
            "SELECT id, order_id, number, body, created_at, voided_at, void_reason, replaces FROM invoices WHERE order_id = $1 AND voided_at IS NULL",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| finance::invoice_from_row(&r, self.pii.as_deref()))
            .transpose()
    }

    // ---- sessions ----

    /// Stores a session.
    pub async fn create_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, kind, subject_id, csrf, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(&s.kind)
        .bind(s.subject_id)
        .bind(&s.csrf)
        .bind(s.expires_at)
        .bind(now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The unexpired session with this token hash.
    pub async fn session(&self, token_hash: &str, now: i64) -> Result<Session> {
        let row = sqlx::query(
            "SELECT token_hash, kind, subject_id, csrf, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(Session {
            token_hash: row.try_get("token_hash")?,
            kind: row.try_get("kind")?,
            subject_id: row.try_get("subject_id")?,
            csrf: row.try_get("csrf")?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Drops expired sessions and SMS codes.
    pub async fn purge_expired(&self, now: i64) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM sms_codes WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        self.purge_limits(now - 2 * 86_400).await
    }

    // ---- SMS ----

    /// Stores (replacing) the sign-in code for a mobile number.
    pub async fn put_sms_code(&self, c: &SmsCode) -> Result<()> {
        sqlx::query(
            "INSERT INTO sms_codes (mobile, code_hash, expires_at, attempts, sent_at) VALUES ($1, $2, $3, 0, $4)
             ON CONFLICT (mobile) DO UPDATE SET code_hash = $2, expires_at = $3, attempts = 0, sent_at = $4",
        )
        .bind(pii::sms_code_key(self.pii.as_deref(), &c.mobile))
        .bind(&c.code_hash)
        .bind(c.expires_at)
        .bind(c.sent_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The sign-in code record for a mobile, counting this look-up as an attempt.
    pub async fn take_sms_attempt(&self, mobile: &str) -> Result<SmsCode> {
        let row = sqlx::query(
            "UPDATE sms_codes SET attempts = attempts + 1 WHERE mobile = $1 RETURNING code_hash, expires_at, attempts, sent_at",
        )
        .bind(pii::sms_code_key(self.pii.as_deref(), mobile))
        .fetch_one(&self.pool)
        .await?;
        Ok(SmsCode {
            mobile: mobile.to_owned(),
            code_hash: row.try_get("code_hash")?,
            expires_at: row.try_get("expires_at")?,
            attempts: row.try_get::<i32, _>("attempts")?,
            sent_at: row.try_get("sent_at")?,
        })
    }

    /// When the last code was sent to `mobile`, if one is pending.
    pub async fn sms_code_sent_at(&self, mobile: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT sent_at FROM sms_codes WHERE mobile = $1")
            .bind(pii::sms_code_key(self.pii.as_deref(), mobile))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("sent_at")).transpose()?)
    }

    /// Removes a used code.
    pub async fn delete_sms_code(&self, mobile: &str) -> Result<()> {
        sqlx::query("DELETE FROM sms_codes WHERE mobile = $1")
            .bind(pii::sms_code_key(self.pii.as_deref(), mobile))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Puts a message into the SMS outbox on its own (a sign-in code); messages that belong to a state change
    /// go through [`StoreTx::push_sms`] so that they are sent exactly when the change commits.
    pub async fn push_sms(&self, mobile: &str, template: &str, text: &str) -> Result<OutboxSms> {
        self.push_sms_with(mobile, template, text, &[]).await
    }

    /// [`Store::push_sms`] with the template's variables.
    pub async fn push_sms_with(
        &self,
        mobile: &str,
        template: &str,
        text: &str,
        params: &[(&str, &str)],
    ) -> Result<OutboxSms> {
        let mut tx = self.begin().await?;
        let m = tx
            .push_sms_with(self.next_id(), mobile, template, text, params)
            .await?;
        tx.commit().await?;
        Ok(m)
    }

    /// The newest messages of the outbox, for one number or all, opened.
    pub async fn outbox(&self, mobile: Option<&str>, limit: i64) -> Result<Vec<OutboxSms>> {
        let pii = self.pii.as_deref();
        let rows = match mobile {
            // A number's messages: by the blind index, and rows written in clear (before keys, or by a store
            // without them) by the number.
            Some(m) => {
                sqlx::query("SELECT id, mobile, template, text, created_at FROM sms_outbox WHERE mobile_index = $1 OR (mobile_index IS NULL AND mobile = $2) ORDER BY id DESC LIMIT $3")
                    .bind(pii::mobile_index(pii, m).unwrap_or_default())
                    .bind(m)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT id, mobile, template, text, created_at FROM sms_outbox ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let open = |field: &str| -> Result<String> {
                    pii::open_text(
                        pii,
                        &pii::sms_place(id, field),
                        &r.try_get::<String, _>(field)?,
                    )
                };
                Ok(OutboxSms {
                    id,
                    mobile: open("mobile")?,
                    template: r.try_get("template")?,
                    text: open("text")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    // ---- audit ----

    /// The audit entries, in order; of one order if given.
    pub async fn audit_entries(&self, order_id: Option<i64>) -> Result<Vec<AuditRecord>> {
        let cols = AUDIT_COLS;
        let rows = match order_id {
            Some(id) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {cols} FROM audit_log WHERE order_id = $1 ORDER BY seq"
                )))
                .bind(id)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {cols} FROM audit_log ORDER BY seq"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(audit_from_row).collect()
    }

    /// Checks the whole audit log: the number of entries, or the first broken one and why.
    ///
    /// Proven: the legacy chain (entries written before per-order chains, against the frozen `audit_head`), every
    /// per-order chain (each from the legacy chain's last hash, against its `audit_chains` head), and the content
    /// of every checkpoint (each chain it lists still has that entry with that hash, so a tail cut off together
    /// with its head row shows). The checkpoints' signatures are checked above the store ([`Store::audit_checkpoints`]).
    ///
    /// Everything is read in one snapshot (a read-only repeatable-read transaction on PostgreSQL, one read
    /// transaction under WAL on SQLite), so that entries committed meanwhile never look like removed ones.
    pub async fn verify_audit(&self) -> Result<std::result::Result<u64, (i64, String)>> {
        let mut tx = self.snapshot().await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let legacy = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE chain_id IS NULL AND seq <= $1 ORDER BY seq"
        )))
        .bind(head_seq)
        .fetch_all(&mut *tx)
        .await?;
        let heads = chain_heads(&mut tx).await?;
        let chained = sqlx::query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE chain_id IS NOT NULL ORDER BY chain_id, chain_seq"
        )))
        .fetch_all(&mut *tx)
        .await?;
        let checkpoints = sqlx::query("SELECT id, heads FROM audit_checkpoints ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("id")?, r.try_get::<String, _>("heads")?)))
            .collect::<Result<Vec<_>>>()?;
        tx.rollback().await?;
        let legacy = legacy
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        let chained = chained
            .iter()
            .map(audit_from_row)
            .collect::<Result<Vec<_>>>()?;
        let key = self.audit_key.as_deref().map(|k| k.as_slice());
        Ok(verify_log(
            (head_seq, &head_hash),
            &legacy,
            &heads,
            &chained,
            &checkpoints,
            key,
        ))
    }

    /// A read-only transaction that sees one moment of the database: repeatable read on PostgreSQL, one read
    /// transaction under WAL on SQLite.
    async fn snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
            Backend::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await?,
        })
    }

    /// The checkpoints, oldest first: (id, the signed text, the signature as base64 DER).
    pub async fn audit_checkpoints(&self) -> Result<Vec<(i64, String, String)>> {
        sqlx::query("SELECT id, heads, signature FROM audit_checkpoints ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("heads")?,
                    r.try_get("signature")?,
                ))
            })
            .collect()
    }

    /// Every chain's head at one moment (one snapshot), as a checkpoint to be signed.
    pub async fn audit_heads(&self) -> Result<Checkpoint> {
        let mut tx = self.snapshot().await?;
        let legacy = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let heads = chain_heads(&mut tx).await?;
        tx.rollback().await?;
        Ok(Checkpoint {
            at: now_text(),
            legacy: (legacy.try_get("seq")?, legacy.try_get("hash")?),
            heads,
        })
    }

    /// Stores a signed checkpoint (`signature`: base64 DER); returns its id.
    pub async fn add_audit_checkpoint(&self, c: &Checkpoint, signature: &str) -> Result<i64> {
        let id = self.next_id();
        sqlx::query(
            "INSERT INTO audit_checkpoints (id, at, heads, signature) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&c.at)
        .bind(c.text())
        .bind(signature)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Audit entries appended to the per-order chains since the last checkpoint (all of them if none).
    pub async fn audit_appends_since_checkpoint(&self) -> Result<i64> {
        let total: i64 =
            sqlx::query("SELECT CAST(COALESCE(SUM(seq), 0) AS BIGINT) AS n FROM audit_chains")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        let last: Option<String> =
            sqlx::query("SELECT heads FROM audit_checkpoints ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("heads"))
                .transpose()?;
        let covered: i64 = last
            .as_deref()
            .and_then(Checkpoint::parse)
            .map_or(0, |c| c.heads.iter().map(|h| h.seq).sum());
        Ok(total - covered)
    }
}

/// One open transaction. Dropped without [`StoreTx::commit`], it rolls back.
pub struct StoreTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    audit_key: Option<AuditKey>,
    pii: pii::SharedPii,
}

impl StoreTx {
    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Makes every write of the transaction durable.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// The order, read inside the transaction.
    pub async fn order(&mut self, id: i64) -> Result<Order> {
        let row = sqlx::query("SELECT body, state, version, total_fen FROM orders WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *self.tx)
            .await?;
        order_from_row(&row, self.pii.as_deref())
    }

    /// Inserts a new order.
    pub async fn insert_order(&mut self, o: &Order) -> Result<()> {
        let pii = self.pii.as_deref();
        let body = pii::seal_order_body(o, pii)?;
        sqlx::query(
            "INSERT INTO orders (id, order_no, project_id, applicant_id, service, state, total_fen, body, version, created_at, updated_at, search_text, mobile_index, holder_index)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(o.id)
        .bind(&o.order_no)
        .bind(o.project_id)
        .bind(o.applicant_id)
        .bind(o.service.code())
        .bind(o.state.code())
        .bind(o.total.0)
        .bind(body)
        .bind(o.version)
        .bind(&o.created_at)
        .bind(&o.updated_at)
        .bind(search::text(o, pii))
        .bind(pii::order_mobile_index(o, pii))
        .bind(pii::order_holder_index(o, pii))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Writes `o` over the stored order if the stored one still has `o.version - 1`; otherwise
    /// [`StoreError::Conflict`] and nothing changes.
    pub async fn update_order(&mut self, o: &Order) -> Result<()> {
        let pii = self.pii.as_deref();
        let body = pii::seal_order_body(o, pii)?;
        let done = sqlx::query(
            "UPDATE orders SET state = $1, total_fen = $2, body = $3, version = $4, updated_at = $5, search_text = $8, mobile_index = $9, holder_index = $10 WHERE id = $6 AND version = $7",
        )
        .bind(o.state.code())
        .bind(o.total.0)
        .bind(body)
        .bind(o.version)
        .bind(&o.updated_at)
        .bind(o.id)
        .bind(o.version - 1)
        .bind(search::text(o, pii))
        .bind(pii::order_mobile_index(o, pii))
        .bind(pii::order_holder_index(o, pii))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "the order was changed by someone else; reload and try again".into(),
            ));
        }
        Ok(())
    }

    /// Records an upload, marking earlier uploads of the same kind as replaced; returns the blob keys of the
    /// uploads it replaced, for the caller to delete once the transaction has committed.
    pub async fn insert_upload(&mut self, u: &UploadMeta) -> Result<Vec<String>> {
        let replaced = sqlx::query(
            "UPDATE uploads SET current = 0 WHERE order_id = $1 AND kind = $2 AND current = 1 RETURNING blob_key",
        )
        .bind(u.order_id)
        .bind(u.kind.code())
        .fetch_all(&mut *self.tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("blob_key"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
        sqlx::query(
            "INSERT INTO uploads (id, order_id, kind, file_name, content_type, size, sm3, blob_key, current, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)",
        )
        .bind(u.id)
        .bind(u.order_id)
        .bind(u.kind.code())
        .bind(&u.file_name)
        .bind(&u.content_type)
        .bind(u.size)
        .bind(&u.sm3)
        .bind(&u.blob_key)
        .bind(&u.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(replaced)
    }

    /// Stores a made seal.
    pub async fn insert_seal(&mut self, s: &SealRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO seals (id, order_id, seq, es_id, kind, name, der, picture_png, valid_start, valid_end, token_serial, revoked, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(s.id)
        .bind(s.order_id)
        .bind(s.seq)
        .bind(&s.es_id)
        .bind(s.kind.code())
        .bind(&s.name)
        .bind(&s.der)
        .bind(&s.picture_png)
        .bind(&s.valid_start)
        .bind(&s.valid_end)
        .bind(&s.token_serial)
        .bind(i32::from(s.revoked))
        .bind(&s.created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Links a certificate holder (`enterprise:<USCC>` / `person:<ID>`) to the applicant account that bound
    /// its key at 授权: UKey sign-in with a key of that holder signs in to this account (the latest link wins).
    pub async fn link_cert_holder(&mut self, holder: &str, applicant_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO cert_holders (holder, applicant_id, linked_at) VALUES ($1, $2, $3)
             ON CONFLICT (holder) DO UPDATE SET applicant_id = $2, linked_at = $3",
        )
        .bind(holder)
        .bind(applicant_id)
        .bind(now_text())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Revokes the live seals bound to a key (补办: the key was lost) that belong to orders of `applicant_id`,
    /// and no one else's. Returns how many.
    pub async fn revoke_seals_on_token(
        &mut self,
        token_serial: &str,
        applicant_id: i64,
    ) -> Result<u64> {
        Ok(self
            .revoke_token_seals(token_serial, applicant_id, "补办")
            .await?
            .len() as u64)
    }

    /// Revokes the live seals bound to a key that belong to orders of `applicant_id` (another holder may have had
    /// seals on a key with the same serial), recording when and why. Returns their esIDs.
    pub async fn revoke_token_seals(
        &mut self,
        token_serial: &str,
        applicant_id: i64,
        reason: &str,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT es_id FROM seals WHERE token_serial = $1 AND revoked = 0
             AND order_id IN (SELECT id FROM orders WHERE applicant_id = $2) ORDER BY id",
        )
        .bind(token_serial)
        .bind(applicant_id)
        .fetch_all(&mut *self.tx)
        .await?;
        self.revoke_rows(&rows, reason).await
    }

    /// Revokes the live seals an order made (the order a 补办 or 变更 replaces), recording when and why.
    /// Returns their esIDs.
    pub async fn revoke_order_seals(&mut self, order_id: i64, reason: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT es_id FROM seals WHERE order_id = $1 AND revoked = 0 ORDER BY id")
                .bind(order_id)
                .fetch_all(&mut *self.tx)
                .await?;
        self.revoke_rows(&rows, reason).await
    }

    async fn revoke_rows(&mut self, rows: &[AnyRow], reason: &str) -> Result<Vec<String>> {
        let ids = rows
            .iter()
            .map(|r| r.try_get::<String, _>("es_id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.revoke_seals(&ids, reason).await
    }

    /// Revokes the seals named (a 变更 replaces only those chosen); returns the esIDs this call revoked.
    pub async fn revoke_seals(&mut self, ids: &[String], reason: &str) -> Result<Vec<String>> {
        let at = now_text();
        let mut revoked = Vec::new();
        for id in ids {
            // A seal another transaction revoked in between keeps its first time and reason and is not counted.
            let r = sqlx::query(
                "UPDATE seals SET revoked = 1, revoked_at = $1, revoke_reason = $2 WHERE es_id = $3 AND revoked = 0",
            )
            .bind(&at)
            .bind(reason)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
            if r.rows_affected() == 1 {
                revoked.push(id.clone());
            }
        }
        Ok(revoked)
    }

    /// Marks a pending (or superseded) payment paid; `refund_due` flags money that came for an order that can no
    /// longer take it. `false` if it was already paid (a repeated notification): nothing changes.
    pub async fn mark_payment_paid(
        &mut self,
        payment_id: i64,
        gateway_txn: &str,
        refund_due: bool,
    ) -> Result<bool> {
        let r = sqlx::query("UPDATE payments SET state = 'paid', gateway_txn = $1, paid_at = $2, refund_due = $3 WHERE id = $4 AND state IN ('pending', 'superseded')")
            .bind(gateway_txn)
            .bind(now_text())
            .bind(i32::from(refund_due))
            .bind(payment_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores an issued invoice.
    pub async fn insert_invoice(&mut self, i: &Invoice) -> Result<()> {
        sqlx::query("INSERT INTO invoices (id, order_id, number, body, created_at, replaces) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(i.id)
            .bind(i.order_id)
            .bind(&i.number)
            .bind(pii::seal_invoice_body(i.id, &i.body, self.pii.as_deref())?)
            .bind(&i.created_at)
            .bind(i.replaces)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Puts a message into the SMS outbox as part of this transaction.
    pub async fn push_sms(
        &mut self,
        id: i64,
        mobile: &str,
        template: &str,
        text: &str,
    ) -> Result<OutboxSms> {
        self.push_sms_with(id, mobile, template, text, &[]).await
    }

    /// Puts a message with its template variables (what a template-based gateway sends) into the SMS outbox as
    /// part of this transaction.
    pub async fn push_sms_with(
        &mut self,
        id: i64,
        mobile: &str,
        template: &str,
        text: &str,
        params: &[(&str, &str)],
    ) -> Result<OutboxSms> {
        let params: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned())))
            .collect();
        let m = OutboxSms {
            id,
            mobile: mobile.into(),
            template: template.into(),
            text: text.into(),
            created_at: now_text(),
        };
        let pii = self.pii.as_deref();
        sqlx::query("INSERT INTO sms_outbox (id, mobile, template, text, created_at, params, mobile_index) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(m.id)
            .bind(pii::seal_sms_field(pii, m.id, "mobile", &m.mobile))
            .bind(&m.template)
            .bind(pii::seal_sms_field(pii, m.id, "text", &m.text))
            .bind(&m.created_at)
            .bind(pii::seal_sms_field(
                pii,
                m.id,
                "params",
                &serde_json::Value::Object(params).to_string(),
            ))
            .bind(pii::mobile_index(pii, &m.mobile))
            .execute(&mut *self.tx)
            .await?;
        Ok(m)
    }

    /// Appends an entry to its chain (the order's, or chain 0 for platform events) and returns it as stored.
    pub async fn append_audit(&mut self, d: AuditDraft) -> Result<AuditRecord> {
        // The chain's head row: made at an order's first entry (following the legacy chain's last hash), else
        // moved on by one. Its row lock serialises the appenders of this chain only, across connections and
        // instances; writers on other orders do not wait.
        let chain_id = ChainPos::chain_of(d.order_id);
        let head = sqlx::query(
            "INSERT INTO audit_chains (chain_id, seq, hash) VALUES ($1, 1, (SELECT hash FROM audit_head WHERE id = 1)) \
             ON CONFLICT (chain_id) DO UPDATE SET seq = audit_chains.seq + 1 RETURNING seq, hash",
        )
        .bind(chain_id)
        .fetch_one(&mut *self.tx)
        .await?;
        // The global number orders entries across chains for reading; it is not part of any chain's proof.
        let seq: i64 = sqlx::query(match self.backend {
            Backend::Postgres => "SELECT nextval('audit_seq') AS seq",
            Backend::Sqlite => "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM audit_log",
        })
        .fetch_one(&mut *self.tx)
        .await?
        .try_get("seq")?;
        let mut rec = AuditRecord {
            seq,
            at: now_text(),
            actor: d.actor,
            ip: d.ip,
            order_id: d.order_id,
            action: d.action,
            before_state: d.before_state.map(|s| s.code().to_owned()),
            after_state: d.after_state.map(|s| s.code().to_owned()),
            detail: d.detail,
            prev_hash: head.try_get("hash")?,
            hash: String::new(),
            chain: Some(ChainPos {
                chain_id,
                pos: head.try_get("seq")?,
            }),
        };
        rec.hash = rec.compute_hash_keyed(self.audit_key.as_deref().map(|k| k.as_slice()));
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, ip, order_id, action, before_state, after_state, detail, prev_hash, hash, chain_id, chain_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(rec.seq)
        .bind(&rec.at)
        .bind(&rec.actor)
        .bind(&rec.ip)
        .bind(rec.order_id)
        .bind(&rec.action)
        .bind(&rec.before_state)
        .bind(&rec.after_state)
        .bind(&rec.detail)
        .bind(&rec.prev_hash)
        .bind(&rec.hash)
        .bind(chain_id)
        .bind(head.try_get::<i64, _>("seq")?)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("UPDATE audit_chains SET hash = $1 WHERE chain_id = $2")
            .bind(&rec.hash)
            .bind(chain_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(rec)
    }
}

/// The columns an [`AuditRecord`] is read from.
const AUDIT_COLS: &str = "seq, at, actor, ip, order_id, action, before_state, after_state, detail, prev_hash, hash, chain_id, chain_seq";

/// Every per-order chain's head, by chain id.
async fn chain_heads(tx: &mut sqlx::Transaction<'static, sqlx::Any>) -> Result<Vec<ChainHead>> {
    sqlx::query("SELECT chain_id, seq, hash FROM audit_chains ORDER BY chain_id")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| {
            Ok(ChainHead {
                chain_id: r.try_get("chain_id")?,
                seq: r.try_get("seq")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

/// Proves the log read in one snapshot: the legacy chain against its frozen head, each per-order chain (from the
/// legacy chain's last hash) against its head, and each checkpoint's heads against the chains.
fn verify_log(
    (head_seq, head_hash): (i64, &str),
    legacy: &[AuditRecord],
    heads: &[ChainHead],
    chained: &[AuditRecord],
    checkpoints: &[(i64, String)],
    key: Option<&[u8]>,
) -> std::result::Result<u64, (i64, String)> {
    let n = AuditRecord::verify_chain_keyed(legacy, key)?;
    if n as i64 != head_seq {
        return Err((
            head_seq,
            format!("the chain head says {head_seq} entries but {n} remain: entries were removed"),
        ));
    }
    if n > 0 && legacy.last().map(|e| e.hash.as_str()) != Some(head_hash) {
        return Err((
            head_seq,
            "the last entry's hash differs from the chain head".into(),
        ));
    }
    let mut total = n;
    let mut by_chain: std::collections::BTreeMap<i64, Vec<&AuditRecord>> = Default::default();
    for r in chained {
        by_chain
            .entry(r.chain.map_or(0, |c| c.chain_id))
            .or_default()
            .push(r);
    }
    for h in heads {
        let entries = by_chain.remove(&h.chain_id).unwrap_or_default();
        let n =
            AuditRecord::verify_order_chain(h.chain_id, head_hash, entries.iter().copied(), key)?;
        let last = entries.last();
        if n as i64 != h.seq {
            return Err((
                last.map_or(0, |e| e.seq),
                format!(
                    "chain {}: its head says {} entries but {n} remain: entries were removed",
                    h.chain_id, h.seq
                ),
            ));
        }
        if last.map(|e| e.hash.as_str()) != Some(h.hash.as_str()) {
            return Err((
                last.map_or(0, |e| e.seq),
                format!(
                    "chain {}: the last entry's hash differs from the chain head",
                    h.chain_id
                ),
            ));
        }
        total += n;
    }
    if let Some((chain_id, entries)) = by_chain.into_iter().next() {
        return Err((
            entries.first().map_or(0, |e| e.seq),
            format!("chain {chain_id} has entries but no head: its head row was removed"),
        ));
    }
    let hash_at = |chain_id: i64, seq: i64| -> Option<&str> {
        let pos = ChainPos { chain_id, pos: seq };
        chained
            .binary_search_by(|r| r.chain.cmp(&Some(pos)))
            .ok()
            .map(|i| chained[i].hash.as_str())
    };
    for (id, text) in checkpoints {
        let Some(c) = Checkpoint::parse(text) else {
            return Err((0, format!("checkpoint {id} is not a checkpoint text")));
        };
        if c.legacy != (head_seq, head_hash.to_owned()) {
            return Err((
                0,
                format!("checkpoint {id}: the legacy chain's head differs from it"),
            ));
        }
        for h in &c.heads {
            if hash_at(h.chain_id, h.seq) != Some(h.hash.as_str()) {
                return Err((
                    0,
                    format!(
                        "checkpoint {id}: chain {} entry {} is not there as signed: entries were removed or altered",
                        h.chain_id, h.seq
                    ),
                ));
            }
        }
    }
    Ok(total)
}

/// The columns [`SealStanding`] is read from.
const STANDING_COLS: &str =
    "es_id, order_id, kind, name, valid_start, valid_end, revoked, revoked_at, revoke_reason";

pub(crate) const PAYMENT_COLS: &str = "id, order_id, channel, amount_fen, state, gateway_txn, created_at, paid_at, refund_due, checkout, refund_txn, refunded_at";

/// Now, RFC 3339 UTC.
pub fn now_text() -> String {
    Timestamp(now_ms() / 1000).rfc3339()
}

enum Arg {
    I(i64),
    S(String),
}

impl Arg {
    fn bind<'q>(
        &'q self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
        match self {
            Arg::I(i) => q.bind(*i),
            Arg::S(s) => q.bind(s.as_str()),
        }
    }
}

/// Whether a page of `rows` rows, asked for with `limit` at `offset`, shows how many match in all: a page shorter
/// than asked is the last, unless it is empty past the first page (the offset may lie beyond the end).
fn page_gives_total(rows: usize, limit: i64, offset: i64) -> bool {
    (rows as i64) < limit && (rows > 0 || offset == 0)
}

fn order_from_row(row: &AnyRow, pii: Option<&PiiKeys>) -> Result<Order> {
    let body: String = row.try_get("body")?;
    let mut o = pii::open_order_body(&body, pii)?;
    // The columns are authoritative: they are what queries filter on and what the version check guards.
    let state: String = row.try_get("state")?;
    o.state = OrderState::from_code(&state)
        .ok_or_else(|| StoreError::Other(format!("unknown state {state}")))?;
    o.version = row.try_get("version")?;
    o.total = Fen(row.try_get("total_fen")?);
    Ok(o)
}

/// Helpers for tests of this and other crates: fresh PostgreSQL databases, tamper checks.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// An order of `mobile`'s applicant in project `project_code` (made if missing) for one 公章 at 80.00 元, in
    /// `state`, with its invoice details confirmed, written straight to the store: a fixture for tests of what
    /// comes after 审核 (payments, reminders).
    pub async fn order_in(
        store: &Store,
        project_code: &str,
        mobile: &str,
        state: OrderState,
    ) -> Order {
        use sealdesk_domain::{
            Authorization, Holder, HolderKind, InvoiceInfo, InvoiceKind, OrderNo, SealKind,
            SealLine, Service,
        };
        let project = match store.project_by_code(project_code).await {
            Ok(p) => p,
            Err(_) => store
                .create_project(
                    project_code,
                    "南昌市城建档案馆",
                    sealdesk_domain::DEFAULT_PRICE_FEN_PER_SEAL_YEAR,
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("project {project_code}: {e}")),
        };
        let applicant = store
            .applicant_for_mobile(mobile)
            .await
            .unwrap_or_else(|e| panic!("applicant {mobile}: {e}"));
        let id = store.next_id();
        let o = Order {
            id,
            order_no: OrderNo::new(&project.code, id).to_string(),
            project_id: project.id,
            applicant_id: applicant,
            service: Service::New,
            state,
            holder: Holder {
                kind: Some(HolderKind::Enterprise),
                enterprise_name: "北筑设计研究院有限公司".into(),
                mobile: mobile.into(),
                ..Default::default()
            },
            seals: vec![SealLine {
                kind: SealKind::OfficialSeal,
                count: 1,
                name: "北筑设计研究院有限公司".into(),
            }],
            authorization: Authorization::default(),
            total: Fen(8_000),
            review_comment: String::new(),
            review_reasons: Vec::new(),
            invoice: Some(InvoiceInfo {
                kind: InvoiceKind::Enterprise,
                title: "北筑设计研究院有限公司".into(),
                taxpayer_id: "91110108551385082Q".into(),
                mobile: mobile.into(),
                ..InvoiceInfo::default()
            }),
            key: None,
            previous_order: None,
            chosen_seals: Vec::new(),
            confirmed_cutouts: None,
            pad_signature: None,
            bid_opening: None,
            version: 1,
            created_at: now_text(),
            updated_at: now_text(),
        };
        let mut tx = store.begin().await.unwrap_or_else(|e| panic!("begin: {e}"));
        tx.insert_order(&o)
            .await
            .unwrap_or_else(|e| panic!("insert: {e}"));
        tx.commit().await.unwrap_or_else(|e| panic!("commit: {e}"));
        o
    }

    /// The PostgreSQL server tests use.
    pub fn pg_admin_url() -> String {
        std::env::var("SEALDESK_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// The URL of a new, uniquely named PostgreSQL database, and a future that drops it.
    ///
    /// # Panics
    /// When the server cannot be reached: tests of the production path must not silently skip.
    #[allow(clippy::expect_used, clippy::panic)]
    pub async fn fresh_postgres_url(tag: &str) -> (String, impl std::future::Future<Output = ()>) {
        sqlx::any::install_default_drivers();
        let admin_url = pg_admin_url();
        let admin = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} is required for this test: {e}",
                    redact_url(&admin_url)
                )
            });
        let db = format!(
            "sealdesk_t_{}_{}_{}",
            tag,
            std::process::id(),
            now_ms() % 1_000_000_000
        );
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .execute(&admin)
            .await
            .expect("create database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or(admin_url.clone());
        let url = format!("{base}/{db}");
        let drop_db = async move {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        };
        (url, drop_db)
    }

    /// The URL of `db_url`'s database for a new login role that may use the tables but not change the schema,
    /// and may only read and append the audit log — the role the production server runs as.
    #[allow(clippy::expect_used)]
    pub async fn restricted_role_url(db_url: &str, role: &str) -> String {
        let owner = AnyPoolOptions::new()
            .max_connections(1)
            .connect(db_url)
            .await
            .expect("connect as the owner");
        let db = db_url.rsplit_once('/').map(|(_, d)| d).unwrap_or_default();
        for sql in [
            format!("DROP ROLE IF EXISTS {role}"),
            format!("CREATE ROLE {role} LOGIN"),
            format!("GRANT CONNECT ON DATABASE {db} TO {role}"),
            format!("GRANT USAGE ON SCHEMA public TO {role}"),
            format!("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
            format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}"),
            format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_checkpoints FROM {role}"),
            format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        ] {
            sqlx::query(AssertSqlSafe(sql))
                .execute(&owner)
                .await
                .expect("grant");
        }
        owner.close().await;
        let (scheme, rest) = db_url.split_once("://").unwrap_or(("postgres", db_url));
        let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
        format!("{scheme}://{role}@{host}")
    }

    /// Runs `f` on a store over a new SQLite file, then on a fresh PostgreSQL database (`name` tags both).
    #[allow(clippy::expect_used)]
    pub async fn with_each_backend<F, Fut>(name: &str, f: F)
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir =
            std::env::temp_dir().join(format!("sealdesk-store-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let sqlite = Store::connect(
            &format!("sqlite://{}?mode=rwc", dir.join("t.db").display()),
            1,
        )
        .await
        .expect("sqlite");
        f(sqlite.clone()).await;
        sqlite.close().await;
        std::fs::remove_dir_all(&dir).ok();

        let (pg, drop_db) = fresh_postgres(name).await;
        f(pg.clone()).await;
        pg.close().await;
        drop_db.await;
    }

    /// Runs any `sql` on `store`, returning the rows it changed or the database's refusal: for tests that play
    /// someone with the database in hand (tampering with the audit log behind the triggers' back).
    pub async fn run_sql(store: &Store, sql: &str) -> std::result::Result<u64, String> {
        sqlx::query(AssertSqlSafe(sql.to_owned()))
            .execute(&store.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    }

    /// Drops the triggers that keep the audit log append-only, as a database administrator could.
    #[allow(clippy::expect_used)]
    pub async fn drop_audit_triggers(store: &Store) {
        let sql: &[&str] = match store.backend {
            Backend::Sqlite => &[
                "DROP TRIGGER audit_log_no_update",
                "DROP TRIGGER audit_log_no_delete",
            ],
            Backend::Postgres => &["DROP TRIGGER audit_log_no_update ON audit_log"],
        };
        for s in sql {
            run_sql(store, s).await.expect("drop trigger");
        }
    }

    /// Runs `sql` on `store` and returns the database's refusal, if any (for tests of what a role may do).
    pub async fn try_sql(store: &Store, sql: &'static str) -> std::result::Result<(), String> {
        sqlx::query(sql)
            .execute(&store.pool)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// A store on a new, uniquely named PostgreSQL database, and a future that drops it.
    #[allow(clippy::expect_used)]
    pub async fn fresh_postgres(tag: &str) -> (Store, impl std::future::Future<Output = ()>) {
        let (url, drop_db) = fresh_postgres_url(tag).await;
        let store = Store::connect(&url, 2)
            .await
            .expect("connect to the fresh database");
        (store, drop_db)
    }

    /// Asserts that the database refuses to edit or delete audit rows, and that an edit made behind the
    /// triggers' back (a DBA dropping them) is caught by [`Store::verify_audit`].
    #[allow(clippy::panic)]
    pub async fn assert_audit_is_append_only(store: &Store) {
        let n = store
            .audit_entries(None)
            .await
            .map(|e| e.len())
            .unwrap_or(0);
        assert!(n >= 2, "need at least two entries");
        assert!(
            sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
                .execute(&store.pool)
                .await
                .is_err()
        );
        assert!(
            sqlx::query("DELETE FROM audit_log WHERE seq = 2")
                .execute(&store.pool)
                .await
                .is_err()
        );
        let drop_trigger: &[&'static str] = match store.backend {
            Backend::Sqlite => &["DROP TRIGGER audit_log_no_update"],
            Backend::Postgres => &["DROP TRIGGER audit_log_no_update ON audit_log"],
        };
        for sql in drop_trigger {
            sqlx::query(*sql)
                .execute(&store.pool)
                .await
                .map_err(|e| panic!("{e}"))
                .ok();
        }
        sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
            .execute(&store.pool)
            .await
            .ok();
        match store.verify_audit().await {
            Ok(Err((seq, _))) => assert_eq!(seq, 2),
            other => panic!("tampering not detected: {other:?}"),
        }
    }
}
