//! The DynamoDB backend, laying tables out as Toasty 0.11's DynamoDB driver does: one table per
//! model keyed by its primary key (HASH, and RANGE for a second key column), pay-per-request; a GSI
//! (projection ALL) per non-unique index; a single-column unique index as a table of its own,
//! keyed by that column, holding `{column, primary key attributes}` per item.
//!
//! DynamoDB keeps no schema for non-key attributes, so each table's full definition is kept in a
//! registry table; introspection takes keys, GSIs and unique-index tables from DynamoDB itself
//! and the other columns from the registry. Item rewrites (backfills, drops, renames) scan in
//! parallel segments, page by page, and write each item with a condition that makes the write
//! safe to repeat, so a killed run is finished by the next.

mod convert;
mod data;
mod items;
mod plan;
mod registry;
mod tables;
mod unique;

use convert::Stored;
use items::{ItemWrite, fill, fill_values, key_of};
pub use registry::stored_snapshot;
use tables::{attribute, key_element, key_type, scalar};

use crate::lease::Renewal;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use toasty_migrate::data::Filter;
use toasty_migrate::lint::Finding;
use toasty_migrate::progress::ProgressBar;
use toasty_migrate::{
    Error, Result,
    backend::{Atomicity, Backend, Executor, Introspect, Journal, JournalRow, Lock, Step},
    files::MigrationPlan,
    schema::{
        ColumnDef, ColumnType, IndexColumn, IndexDef, IndexOp, IndexScope, IndexedSchema,
        Operation, SchemaSnapshot, TableSnapshot,
    },
};

const TRACKING: &str = "_toasty_migrations";
const LOCK: &str = "_toasty_migrations_lock";
const REGISTRY: &str = "_toasty_migrations_schema";
const SEGMENTS: i32 = 4;

/// Conditional writes in flight at once per scan segment.
const BATCH: usize = 25;

/// An item, or a set of expression values: attribute name to value.
type Item = HashMap<String, AttributeValue>;

/// An AWS SDK error and each of its sources by their `Display`, joined by `: `, a source whose text is
/// already said left out.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The host and port of an endpoint URL (`http://host:port/...`).
fn endpoint_address(endpoint: &str) -> Option<(String, u16)> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, port.parse().ok()?)
        }
        _ => (authority, default_port),
    };
    Some((host.trim_matches(['[', ']']).to_string(), port))
}

/// A migration backend over DynamoDB (or a local server speaking its API).
pub struct DynamoBackend {
    client: Client,
    /// Prepended to every table name (the URL's `prefix`), as Toasty's `table_name_prefix`.
    prefix: String,
    target: String,
    holder: String,
    lease: Duration,
    /// Renews the lease while we hold the lock.
    renewal: Option<Renewal>,
    lock_timeout: Duration,
    /// How long to wait for a table or index to become ACTIVE.
    active_timeout: Duration,
    /// Show item rewrites' progress on stderr.
    progress: bool,
}

impl DynamoBackend {
    /// Connects to `dynamodb://<region>[?endpoint=http://host:port][&prefix=app_]`, with
    /// credentials from the usual AWS chain (environment, profile, instance role).
    pub async fn connect(url: &str) -> Result<Self> {
        let target = toasty_migrate::backend::redact(url);
        let rest = url
            .strip_prefix("dynamodb://")
            .ok_or_else(|| Error::Unsupported {
                target: target.clone(),
                message: "a DynamoDB URL is dynamodb://<region>[?endpoint=...][&prefix=...]".into(),
            })?;
        let (region, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut endpoint = None;
        let mut prefix = String::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("endpoint", v)) => endpoint = Some(v.to_string()),
                Some(("prefix", v)) => prefix = v.to_string(),
                _ => {
                    // Only the name: the value may be a credential.
                    let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                    return Err(Error::Unsupported {
                        target,
                        message: format!(
                            "unknown DynamoDB URL parameter {name:?} (endpoint, prefix); \
                             credentials come from the AWS chain (AWS_ACCESS_KEY_ID and \
                             AWS_SECRET_ACCESS_KEY, a profile, an instance role), not the URL"
                        ),
                    });
                }
            }
        }
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(refused) = match endpoint.as_deref().and_then(endpoint_address) {
            Some((host, port)) => crate::connect::refused(&host, port).await,
            None => None,
        } {
            return Err(Error::backend(target, refused));
        }
        let config = loader.load().await;
        let client = Client::new(&config);
        let check = tokio::time::timeout(
            Duration::from_secs(10),
            client.list_tables().limit(1).send(),
        )
        .await;
        match check {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(Error::driver(
                    &target,
                    format!("cannot connect: {}", error_chain(&e)),
                    e,
                ));
            }
            Err(_) => {
                return Err(Error::backend(
                    target,
                    "cannot connect: no answer within 10 s",
                ));
            }
        }
        Ok(DynamoBackend {
            client,
            prefix,
            target,
            holder: crate::lease::holder_id(),
            lease: crate::lease::DEFAULT_LEASE,
            renewal: None,
            lock_timeout: Duration::from_secs(60),
            active_timeout: Duration::from_secs(120),
            progress: false,
        })
    }

    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Shows a progress bar on stderr while items are rewritten (nothing is drawn where stderr
    /// is not a terminal). Off by default: a library does not draw unless asked.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// How long the lock lasts unless renewed (default 10 s; a run renews it every third of
    /// that): how long a dead runner's lock blocks the next runner.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn name(&self, table: &str) -> String {
        format!("{}{table}", self.prefix)
    }

    /// An index's name in DynamoDB (a GSI's name, or a unique index's table), by Toasty's
    /// rule: a name Toasty generated (`index_<table>_by_<columns>`) is generated again from the
    /// prefixed table name; a name the application chose is kept as it is.
    fn index_name(&self, table: &str, index: &str) -> String {
        match index.strip_prefix(&format!("index_{table}_by_")) {
            Some(columns) if !self.prefix.is_empty() => {
                format!("index_{}_by_{columns}", self.name(table))
            }
            _ => index.to_string(),
        }
    }

    /// The inverse of [`index_name`](Self::index_name), for introspection.
    fn logical_index_name(&self, table: &str, physical: &str) -> String {
        match physical.strip_prefix(&format!("index_{}_by_", self.name(table))) {
            Some(columns) if !self.prefix.is_empty() => format!("index_{table}_by_{columns}"),
            _ => physical.to_string(),
        }
    }

    /// A failure of the database (exit 1), said in our words.
    fn error_message(&self, message: String) -> Error {
        Error::backend(&self.target, message)
    }

    /// A failure the SDK reported, with its chain of causes in the message.
    fn error(&self, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::driver(&self.target, error_chain(&e), e)
    }

    fn unsupported(&self, message: String) -> Error {
        Error::Unsupported {
            target: self.target.clone(),
            message,
        }
    }

    /// A tracking row from its item.
    fn journal_row(item: &HashMap<String, AttributeValue>) -> JournalRow {
        let s = |k: &str| match item.get(k) {
            Some(AttributeValue::S(v)) => v.clone(),
            _ => String::new(),
        };
        let n = |k: &str| match item.get(k) {
            Some(AttributeValue::N(v)) => v.parse::<u64>().unwrap_or(0),
            _ => 0,
        };
        JournalRow {
            version: s("version"),
            name: s("name"),
            checksum: s("checksum"),
            applied_at: OffsetDateTime::parse(
                &s("applied_at"),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            execution_time: Duration::from_millis(n("execution_ms")),
            done: n("statements_done") as usize,
            total: n("statements_total") as usize,
            steps_checksum: s("statements_checksum"),
            reverting: matches!(item.get("reverting"), Some(AttributeValue::Bool(true))),
        }
    }

    /// Takes the lease, or renews ours: one conditional write.
    async fn take_lease(&self) -> Result<bool> {
        take_lease(&self.client, &self.name(LOCK), &self.holder, self.lease)
            .await
            .map_err(|e| self.error(e))
    }
}

/// [`DynamoBackend::take_lease`], on what it needs alone (the renewal task owns copies).
async fn take_lease(
    client: &Client,
    table: &str,
    holder: &str,
    lease: Duration,
) -> std::result::Result<
    bool,
    aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError>,
> {
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let expires = now + lease.as_millis() as i128;
    let put = client
        .put_item()
        .table_name(table)
        .item("id", AttributeValue::S("lock".into()))
        .item("holder", AttributeValue::S(holder.to_string()))
        .item("expires_at", AttributeValue::N(expires.to_string()))
        .condition_expression("attribute_not_exists(id) OR holder = :me OR expires_at < :now")
        .expression_attribute_values(":me", AttributeValue::S(holder.to_string()))
        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
        .send()
        .await;
    match put {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// One operation, planned against its table as the earlier operations leave it.
pub struct DynamoStep {
    op: Operation,
    live: Option<TableSnapshot>,
    /// The API calls it makes, for dry runs.
    calls: Vec<String>,
}

impl Step for DynamoStep {
    fn describe(&self) -> Vec<String> {
        self.calls.clone()
    }

    fn key(&self) -> Vec<u8> {
        serde_json::to_vec(&self.op).expect("operations serialize")
    }
}

/// DynamoDB has no transaction for table changes, so the core journals a migration operation by
/// operation; every operation's writes are conditional and safe to repeat.
impl Executor for DynamoBackend {
    type Step = DynamoStep;

    /// Table and index names as DynamoDB takes them: 3 to 255 of `[A-Za-z0-9_.-]`, prefix and
    /// Toasty's index naming included.
    fn lint(&self, op: &Operation, table: &TableSnapshot, _: bool) -> Vec<Finding> {
        lint(op, table)
    }

    fn check(&self, op: &Operation) -> std::result::Result<(), String> {
        let name = |role: &str, name: &str| {
            let ok = (3..=255).contains(&name.len())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{role} name {name:?} is not 3 to 255 of the characters A-Z a-z 0-9 _ . - \
                     that DynamoDB allows"
                ))
            }
        };
        if let Some(table) = op.table() {
            name("table", &self.name(table))?;
        }
        match op {
            Operation::CreateIndex { table, index } => {
                name("index", &self.index_name(table, &index.name))
            }
            _ => Ok(()),
        }
    }

    fn plan(
        &self,
        op: &Operation,
        table: Option<&TableSnapshot>,
        _: bool,
    ) -> Result<Vec<DynamoStep>> {
        let live = table.cloned();
        let mut calls = self.api_calls(op, live.as_ref());
        // Every schema change on a table ends by recording what it left.
        if let Some(table) = op.table().filter(|_| !op.is_data()) {
            let registry = self.name(REGISTRY);
            calls.push(match op {
                Operation::DropTable { .. } => format!("DeleteItem {registry} {table}"),
                _ => format!("PutItem {registry} {table} (its definition after this operation)"),
            });
        }
        Ok(vec![DynamoStep {
            op: op.clone(),
            live,
            calls,
        }])
    }

    /// The operation, under the lease.
    async fn perform(&mut self, step: &DynamoStep) -> Result<()> {
        crate::lease::holding(
            &self.target,
            self.lease,
            || self.take_lease(),
            self.apply(&step.op, step.live.as_ref()),
        )
        .await
    }

    /// `DescribeTable`'s `ItemCount` (DynamoDB updates it about every six hours): the writes
    /// a rewrite of every item makes.
    async fn estimated_rows(&mut self, table: &str) -> Option<u64> {
        let described = self.describe(&self.name(table)).await.ok()??;
        described.item_count().map(|n| n.max(0) as u64)
    }

    async fn count_rows(&mut self, table: &TableSnapshot, filter: &Filter) -> Result<u64> {
        self.count_items(table, filter).await
    }

    fn atomicity(&self, _: &MigrationPlan, _: &[DynamoStep]) -> Result<Atomicity> {
        Ok(Atomicity::Journal)
    }
}

/// `_toasty_migrations`, one item per migration, and the registry beside it.
impl Journal for DynamoBackend {
    async fn ensure_journal(&mut self) -> Result<()> {
        self.ensure_table(TRACKING, "version").await?;
        self.ensure_table(REGISTRY, "table").await
    }

    async fn rows(&mut self) -> Result<Vec<JournalRow>> {
        if self.describe(&self.name(TRACKING)).await?.is_none() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<JournalRow> = self
            .scan_internal(TRACKING)
            .await?
            .iter()
            .map(Self::journal_row)
            .collect();
        rows.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(rows)
    }

    async fn read_row(&mut self, version: &str) -> Result<Option<JournalRow>> {
        let row = self
            .client
            .get_item()
            .table_name(self.name(TRACKING))
            .key("version", AttributeValue::S(version.to_string()))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(row.item().map(Self::journal_row))
    }

    async fn write_row(&mut self, row: &JournalRow) -> Result<()> {
        let at = row
            .applied_at
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a UTC time formats");
        let n = |v: u128| AttributeValue::N(v.to_string());
        self.client
            .put_item()
            .table_name(self.name(TRACKING))
            .item("version", AttributeValue::S(row.version.clone()))
            .item("name", AttributeValue::S(row.name.clone()))
            .item("checksum", AttributeValue::S(row.checksum.clone()))
            .item("applied_at", AttributeValue::S(at))
            .item("execution_ms", n(row.execution_time.as_millis()))
            .item("statements_done", n(row.done as u128))
            .item("statements_total", n(row.total as u128))
            .item(
                "statements_checksum",
                AttributeValue::S(row.steps_checksum.clone()),
            )
            .item("reverting", AttributeValue::Bool(row.reverting))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn delete_row(&mut self, version: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(self.name(TRACKING))
            .key("version", AttributeValue::S(version.to_string()))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}

/// The lease, taken by one conditional write and renewed by a task of its own while held; the
/// core polls it.
impl Lock for DynamoBackend {
    async fn try_lock(&mut self) -> Result<bool> {
        if self.renewal.is_some() {
            return self.take_lease().await;
        }
        self.ensure_table(LOCK, "id").await?;
        let taken = self.take_lease().await?;
        if taken {
            let (client, table) = (self.client.clone(), self.name(LOCK));
            let (holder, lease) = (self.holder.clone(), self.lease);
            self.renewal = Some(Renewal::start(lease, move || {
                let (client, table, holder) = (client.clone(), table.clone(), holder.clone());
                async move { take_lease(&client, &table, &holder, lease).await }
            }));
        }
        Ok(taken)
    }

    async fn unlock(&mut self) -> Result<()> {
        self.renewal = None;
        let deleted = self
            .client
            .delete_item()
            .table_name(self.name(LOCK))
            .key("id", AttributeValue::S("lock".into()))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", AttributeValue::S(self.holder.clone()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.error(e)),
        }
    }

    fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }
}

impl Introspect for DynamoBackend {
    async fn introspect(&mut self) -> Result<SchemaSnapshot> {
        self.read_schema().await
    }

    fn stored(&self, snapshot: &SchemaSnapshot) -> SchemaSnapshot {
        stored_snapshot(snapshot)
    }

    /// The registry keeps each table's columns in the order the migrations put them.
    fn keeps_column_order(&self) -> bool {
        true
    }
}

impl Backend for DynamoBackend {
    fn target(&self) -> String {
        self.target.clone()
    }
}

/// DynamoDB's lint findings for `op` on `table` (pure; see [`crate::lint`]): a rewrite of every
/// item, where the stored form of a converted column changes.
pub fn lint(op: &Operation, table: &TableSnapshot) -> Vec<Finding> {
    crate::lint::rewrite("dynamodb-rewrite", op, table, "item", |from, to| {
        Stored::of(&from.ty) != Stored::of(&to.ty)
    })
    .into_iter()
    .collect()
}
