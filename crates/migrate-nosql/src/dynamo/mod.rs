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

use convert::Stored;

use crate::lease::Renewal;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use toasty_migrate::{
    Atomicity, Backend, ColumnDef, ColumnType, DefaultValue, Error, Executor, IndexColumn,
    IndexDef, IndexOp, IndexScope, Introspect, Journal, JournalRow, Lock, MigrationPlan, Operation,
    Result, SchemaSnapshot, Step, TableSnapshot,
};

const TRACKING: &str = "_toasty_migrations";
const LOCK: &str = "_toasty_migrations_lock";
const REGISTRY: &str = "_toasty_migrations_schema";
const SEGMENTS: i32 = 4;

/// Conditional writes in flight at once per scan segment.
const BATCH: usize = 25;

/// An item, or a set of expression values: attribute name to value.
type Item = HashMap<String, AttributeValue>;

/// The conditional update every item of a rewrite gets (the values differ per item); one
/// definition for the run and its dry run.
struct ItemWrite {
    expression: &'static str,
    condition: &'static str,
    /// Expression attribute names: placeholder, attribute.
    names: Vec<(&'static str, String)>,
}

impl ItemWrite {
    /// `:v` where the attribute is absent or NULL.
    fn fill(column: &str) -> ItemWrite {
        ItemWrite {
            expression: "SET #a = :v",
            condition: "attribute_not_exists(#a) OR attribute_type(#a, :null)",
            names: vec![("#a", column.to_string())],
        }
    }

    fn remove(column: &str) -> ItemWrite {
        ItemWrite {
            expression: "REMOVE #a",
            condition: "attribute_exists(#a)",
            names: vec![("#a", column.to_string())],
        }
    }

    /// The old attribute's value (`:v`, converted if the type changes) under the new name.
    fn rename(from: &str, to: &str) -> ItemWrite {
        ItemWrite {
            expression: "SET #new = :v REMOVE #old",
            condition: "attribute_exists(#old)",
            names: vec![("#new", to.to_string()), ("#old", from.to_string())],
        }
    }

    /// The converted value `:v` where the item still holds the value read, `:old`.
    fn convert(column: &str) -> ItemWrite {
        ItemWrite {
            expression: "SET #a = :v",
            condition: "#a = :old",
            names: vec![("#a", column.to_string())],
        }
    }

    /// For dry runs: the scan and the update, with the attribute names in place.
    fn describe(&self, table: &str, values: &str) -> String {
        let named = |text: &str| {
            self.names
                .iter()
                .fold(text.to_string(), |t, (p, name)| t.replace(p, name))
        };
        let values = match values {
            "" => String::new(),
            values => format!(" ({values})"),
        };
        format!(
            "Scan {table} ({SEGMENTS} segments); per item, {BATCH} at once per segment: \
             UpdateItem {} IF {}{values}",
            named(self.expression),
            named(self.condition)
        )
    }
}

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
        let target = toasty_migrate::redact(url);
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
            return Err(Error::Backend {
                target,
                message: refused,
            });
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
                return Err(Error::Backend {
                    target,
                    message: format!("cannot connect: {}", error_chain(&e)),
                });
            }
            Err(_) => {
                return Err(Error::Backend {
                    target,
                    message: "cannot connect: no answer within 10 s".into(),
                });
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
        Error::Backend {
            target: self.target.clone(),
            message,
        }
    }

    fn error(&self, e: impl std::error::Error) -> Error {
        self.error_message(error_chain(&e))
    }

    fn unsupported(&self, message: String) -> Error {
        Error::Unsupported {
            target: self.target.clone(),
            message,
        }
    }

    /// Creates an internal table keyed by one string attribute, if missing.
    async fn ensure_table(&self, table: &str, key: &str) -> Result<()> {
        let name = self.name(table);
        if self.describe(&name).await?.is_some() {
            return Ok(());
        }
        let created = self
            .client
            .create_table()
            .table_name(&name)
            .key_schema(key_element(key, KeyType::Hash))
            .attribute_definitions(attribute(key, ScalarAttributeType::S))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Another runner created it first.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) => {}
            Err(e) => return Err(self.error(e)),
        }
        self.wait_active(&name, None).await
    }

    async fn describe(
        &self,
        name: &str,
    ) -> Result<Option<aws_sdk_dynamodb::types::TableDescription>> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(out) => Ok(out.table),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Waits for the table (and, if named, its GSI) to be ACTIVE, up to the timeout.
    async fn wait_active(&self, name: &str, index: Option<&str>) -> Result<()> {
        let start = Instant::now();
        loop {
            if let Some(t) = self.describe(name).await? {
                let table_active = t.table_status == Some(TableStatus::Active);
                let index_active = match index {
                    None => true,
                    Some(index) => t.global_secondary_indexes().iter().any(|g| {
                        g.index_name() == Some(index)
                            && g.index_status() == Some(&IndexStatus::Active)
                    }),
                };
                if table_active && index_active {
                    return Ok(());
                }
            }
            if start.elapsed() > self.active_timeout {
                return Err(self.error_message(format!(
                    "table {name}{} did not become ACTIVE within {} s",
                    index.map(|i| format!(" index {i}")).unwrap_or_default(),
                    self.active_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Deletes a table if it is there, and waits until it is gone.
    async fn delete_table(&self, name: &str) -> Result<()> {
        if self.describe(name).await?.is_some() {
            self.client
                .delete_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| self.error(e))?;
        }
        self.wait_deleted(name).await
    }

    async fn wait_deleted(&self, name: &str) -> Result<()> {
        let start = Instant::now();
        while self.describe(name).await?.is_some() {
            if start.elapsed() > self.active_timeout {
                // The database's failure (exit 1), as a table that never becomes ACTIVE is.
                return Err(self.error_message(format!(
                    "table {name} was not deleted within {} s",
                    self.active_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// The registry: each table's definition, as the migrations left it.
    async fn registry(&self) -> Result<SchemaSnapshot> {
        if self.describe(&self.name(REGISTRY)).await?.is_none() {
            return Ok(SchemaSnapshot::default());
        }
        let mut tables = Vec::new();
        for item in self.scan_internal(REGISTRY).await? {
            if let Some(AttributeValue::S(json)) = item.get("definition") {
                let table: TableSnapshot = serde_json::from_str(json)
                    .map_err(|e| self.unsupported(format!("registry: {e}")))?;
                tables.push(table);
            }
        }
        Ok(SchemaSnapshot::new(tables))
    }

    /// Every item of one of our small internal tables (tracking, registry), all pages.
    async fn scan_internal(&self, table: &str) -> Result<Vec<HashMap<String, AttributeValue>>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(self.name(table))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error(e))?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn register(&self, table: &TableSnapshot) -> Result<()> {
        let json = serde_json::to_string(table).expect("a table serializes");
        self.client
            .put_item()
            .table_name(self.name(REGISTRY))
            .item("table", AttributeValue::S(table.name.clone()))
            .item("definition", AttributeValue::S(json))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn unregister(&self, table: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(self.name(REGISTRY))
            .key("table", AttributeValue::S(table.to_string()))
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// The application's tables: keys, GSIs and unique-index tables from DynamoDB, the other
    /// columns from the registry.
    async fn read_schema(&self) -> Result<SchemaSnapshot> {
        let registry = self.registry().await?;
        let mut tables = Vec::new();
        for registered in &registry.tables {
            let Some(description) = self.describe(&self.name(&registered.name)).await? else {
                continue;
            };
            let keys = |schema: &[KeySchemaElement]| -> Vec<IndexColumn> {
                schema
                    .iter()
                    .map(|k| IndexColumn {
                        column: k.attribute_name().to_string(),
                        op: IndexOp::Eq,
                        scope: if k.key_type() == &KeyType::Range {
                            IndexScope::Local
                        } else {
                            IndexScope::Partition
                        },
                    })
                    .collect()
            };
            let mut indexes: Vec<IndexDef> = description
                .global_secondary_indexes()
                .iter()
                .map(|g| IndexDef {
                    name: self
                        .logical_index_name(&registered.name, g.index_name().unwrap_or_default()),
                    columns: keys(g.key_schema()),
                    unique: false,
                })
                .collect();
            for index in registered.indexes.iter().filter(|i| i.unique) {
                let physical = self.index_name(&registered.name, &index.name);
                if let Some(t) = self.describe(&physical).await? {
                    indexes.push(IndexDef {
                        name: index.name.clone(),
                        columns: keys(t.key_schema()),
                        unique: true,
                    });
                }
            }
            tables.push(TableSnapshot {
                name: registered.name.clone(),
                columns: registered.columns.clone(),
                primary_key: keys(description.key_schema()),
                indexes,
            });
        }
        Ok(SchemaSnapshot::new(tables))
    }

    /// Every item of a table, page by page in parallel segments, each page passed to `each`.
    /// With [`with_progress`](Self::with_progress), a bar on stderr counts the items, against
    /// DynamoDB's estimate of the table's size.
    async fn for_each_page<F, Fut>(&self, table: &str, what: &str, each: F) -> Result<()>
    where
        F: Fn(Vec<Item>) -> Fut + Sync,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let progress = self.progress_bar(table, what).await?;
        let segments = (0..SEGMENTS).map(|segment| {
            let (each, progress) = (&each, &progress);
            async move {
                let mut start = None;
                loop {
                    let page = self
                        .client
                        .scan()
                        .table_name(self.name(table))
                        .segment(segment)
                        .total_segments(SEGMENTS)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(|e| self.error(e))?;
                    let items = page.items.unwrap_or_default();
                    let count = items.len() as u64;
                    each(items).await?;
                    crate::progress::advance(progress, count);
                    start = page.last_evaluated_key;
                    if start.is_none() {
                        return Ok::<(), Error>(());
                    }
                }
            }
        });
        let results = futures_util::future::join_all(segments).await;
        progress.finish_and_clear();
        results.into_iter().collect()
    }

    async fn progress_bar(&self, table: &str, what: &str) -> Result<ProgressBar> {
        let estimate = match self.progress {
            true => self
                .describe(&self.name(table))
                .await?
                .and_then(|d| d.item_count())
                .unwrap_or(0),
            false => 0,
        };
        Ok(crate::progress::bar(
            self.progress,
            estimate.max(0) as u64,
            "items",
            format!("{table}: {what}"),
        ))
    }

    /// Rewrites every item of `table` with a conditional update each, `BATCH` at a time:
    /// `values` gives an item's expression values, or `None` for an item that needs no write
    /// (done by an earlier run). A write whose condition fails was done too, which makes a
    /// repeated run harmless.
    async fn rewrite_items(
        &self,
        table: &TableSnapshot,
        what: &str,
        write: ItemWrite,
        values: impl Fn(&Item) -> Result<Option<Item>> + Sync,
    ) -> Result<()> {
        let (values, write) = (&values, &write);
        self.for_each_page(&table.name, what, |page| async move {
            let mut writes = Vec::new();
            for item in &page {
                if let Some(values) = values(item)? {
                    writes.push((key_of(table, item), values));
                }
            }
            for batch in writes.chunks(BATCH) {
                self.write_batch(&table.name, write, batch).await?;
            }
            Ok(())
        })
        .await
    }

    /// A batch of conditional updates, sent at once. (Not `BatchWriteItem`, which takes no
    /// conditions, nor `TransactWriteItems`, which costs twice the write capacity and fails as
    /// a whole on one condition.) A failed condition means the item was done already.
    async fn write_batch(
        &self,
        table: &str,
        write: &ItemWrite,
        batch: &[(Item, Item)],
    ) -> Result<()> {
        let names: HashMap<String, String> = write
            .names
            .iter()
            .map(|(p, n)| (p.to_string(), n.to_string()))
            .collect();
        let updates = batch.iter().map(|(key, values)| {
            self.client
                .update_item()
                .table_name(self.name(table))
                .set_key(Some(key.clone()))
                .update_expression(write.expression)
                .condition_expression(write.condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values((!values.is_empty()).then(|| values.clone()))
                .send()
        });
        for sent in futures_util::future::join_all(updates).await {
            match sent {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok(())
    }

    /// The API calls `op` becomes, for dry runs; `live` is its table as the registry has it.
    fn api_calls(&self, op: &Operation, live: Option<&TableSnapshot>) -> Vec<String> {
        let keys = |def: &[IndexColumn], columns: &[ColumnDef]| {
            def.iter()
                .map(|k| {
                    let ty = columns
                        .iter()
                        .find(|c| c.name == k.column)
                        .map_or(ScalarAttributeType::S, |c| scalar(&c.ty));
                    format!("{} {} {}", k.column, ty, key_type(k))
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let no_columns: &[ColumnDef] = &[];
        let columns = live.map_or(no_columns, |t| &t.columns);
        let table = |name: &str| self.name(name);
        match op {
            Operation::CreateTable(def) => vec![format!(
                "CreateTable {} key ({}) PAY_PER_REQUEST; wait until ACTIVE",
                table(&def.name),
                keys(&def.primary_key, &def.columns)
            )],
            Operation::DropTable { table: t } => vec![format!("DeleteTable {}", table(t))],
            Operation::CreateIndex { table: t, index } if index.unique => {
                let name = self.index_name(t, &index.name);
                vec![
                    format!(
                        "CreateTable {name} key ({}) PAY_PER_REQUEST; wait until ACTIVE",
                        keys(&index.columns, columns)
                    ),
                    format!(
                        "Scan {} ({SEGMENTS} segments); per item with {col}: PutItem {name} \
                         {{{col}, key}} IF attribute_not_exists({col}), a different item's \
                         entry refuses the index",
                        table(t),
                        col = index.columns.first().map_or("", |c| c.column.as_str())
                    ),
                ]
            }
            Operation::CreateIndex { table: t, index } => vec![format!(
                "UpdateTable {}: create GSI {} key ({}) projection ALL; wait until ACTIVE",
                table(t),
                self.index_name(t, &index.name),
                keys(&index.columns, columns)
            )],
            Operation::DropIndex { table: t, index } => {
                let unique = live.and_then(|l| l.index(index)).is_some_and(|i| i.unique);
                let name = self.index_name(t, index);
                vec![match unique {
                    true => format!("DeleteTable {name}"),
                    false => format!("UpdateTable {}: delete GSI {name}", table(t)),
                }]
            }
            Operation::AddColumn {
                table: t, column, ..
            } => fill(column)
                .map(|v| ItemWrite::fill(&column.name).describe(&table(t), &fill_values(&v)))
                .into_iter()
                .collect(),
            Operation::DropColumn { table: t, column } => {
                vec![ItemWrite::remove(column).describe(&table(t), "")]
            }
            Operation::ModifyColumn { table: t, from, to } => {
                let mut calls = Vec::new();
                if from.ty != to.ty {
                    calls.push(format!(
                        "Scan {} ({SEGMENTS} segments): every {} must convert to {}, or nothing is written",
                        table(t),
                        from.name,
                        to.ty
                    ));
                }
                if from.name != to.name {
                    calls.push(
                        ItemWrite::rename(&from.name, &to.name)
                            .describe(&table(t), ":v = the old value, converted"),
                    );
                } else if from.ty != to.ty {
                    calls.push(
                        ItemWrite::convert(&to.name)
                            .describe(&table(t), ":v = the value converted, :old = the value read"),
                    );
                }
                if let (true, false, Some(v)) = (from.nullable, to.nullable, fill(to)) {
                    calls.push(ItemWrite::fill(&to.name).describe(&table(t), &fill_values(&v)));
                }
                calls
            }
            Operation::Raw { .. } => {
                vec!["(refused: raw statements have no meaning on DynamoDB)".into()]
            }
        }
    }

    /// Gives every item without a value for `column` (absent, or NULL) `value`.
    async fn fill_items(
        &self,
        table: &TableSnapshot,
        column: &str,
        value: AttributeValue,
    ) -> Result<()> {
        self.rewrite_items(
            table,
            &format!("fill {column}"),
            ItemWrite::fill(column),
            |item| {
                Ok(match item.get(column) {
                    Some(v) if !matches!(v, AttributeValue::Null(_)) => None,
                    _ => Some(HashMap::from([
                        (":v".to_string(), value.clone()),
                        (":null".to_string(), AttributeValue::S("NULL".into())),
                    ])),
                })
            },
        )
        .await
    }

    /// Converts (`from.ty` to `to.ty`) and renames (`from.name` to `to.name`) a column's stored
    /// values. A value that cannot be converted is refused by a first pass, before any item is
    /// written; an item an earlier run did is left alone.
    async fn modify_items(
        &self,
        op: &Operation,
        table: &TableSnapshot,
        from: &ColumnDef,
        to: &ColumnDef,
    ) -> Result<()> {
        let retype = from.ty != to.ty;
        let renamed = from.name != to.name;
        // The value to convert: under the old name, or the new one where a run renamed it.
        let current = |item: &Item| -> Option<AttributeValue> {
            item.get(&from.name).or_else(|| item.get(&to.name)).cloned()
        };
        let converted = |item: &Item| -> Result<Option<AttributeValue>> {
            let Some(value) = current(item) else {
                return Ok(None);
            };
            convert::convert(&value, &to.ty).map_err(|why| {
                self.unsupported(format!(
                    "`{op}`: the item with {} holds {value:?}: {why}; this operation changed no item",
                    describe_key(table, item)
                ))
            })
        };
        if retype {
            let what = format!("check {} as {}", from.name, to.ty);
            self.for_each_page(&table.name, &what, |page| {
                let checked = page.iter().try_for_each(|item| converted(item).map(|_| ()));
                async move { checked }
            })
            .await?;
        }
        if renamed {
            self.rewrite_items(
                table,
                &format!("rename {} to {}", from.name, to.name),
                ItemWrite::rename(&from.name, &to.name),
                |item| {
                    let Some(old) = item.get(&from.name) else {
                        return Ok(None);
                    };
                    let value = converted(item)?.unwrap_or_else(|| old.clone());
                    Ok(Some(HashMap::from([(":v".to_string(), value)])))
                },
            )
            .await
        } else if retype {
            self.rewrite_items(
                table,
                &format!("convert {} to {}", to.name, to.ty),
                ItemWrite::convert(&to.name),
                |item| {
                    let (Some(old), Some(new)) = (current(item), converted(item)?) else {
                        return Ok(None);
                    };
                    Ok(Some(HashMap::from([
                        (":v".to_string(), new),
                        (":old".to_string(), old),
                    ])))
                },
            )
            .await
        } else {
            Ok(())
        }
    }

    /// Applies one operation to its table, `live` as it is now, and registers what the
    /// operation leaves.
    async fn apply(&self, op: &Operation, live: Option<&TableSnapshot>) -> Result<()> {
        let live_table = || {
            live.cloned().ok_or_else(|| {
                self.unsupported(format!("`{op}`: the table is not in the registry"))
            })
        };
        match op {
            Operation::CreateTable(def) => {
                let name = self.name(&def.name);
                if self.describe(&name).await?.is_none() {
                    let mut request = self
                        .client
                        .create_table()
                        .table_name(&name)
                        .billing_mode(BillingMode::PayPerRequest);
                    for key in &def.primary_key {
                        let column = def
                            .columns
                            .iter()
                            .find(|c| c.name == key.column)
                            .expect("validated key");
                        request = request
                            .key_schema(key_element(&key.column, key_type(key)))
                            .attribute_definitions(attribute(&key.column, scalar(&column.ty)));
                    }
                    request.send().await.map_err(|e| self.error(e))?;
                }
                self.wait_active(&name, None).await?;
            }
            Operation::DropTable { table } => self.delete_table(&self.name(table)).await?,
            Operation::CreateIndex { table, index } => {
                let t = live_table()?;
                let column_type = |name: &str| {
                    t.column(name).map(|c| scalar(&c.ty)).ok_or_else(|| {
                        self.unsupported(format!("index {}: no column {name:?}", index.name))
                    })
                };
                if index.unique {
                    self.create_unique_index(&t, index, column_type(&index.columns[0].column)?)
                        .await?;
                } else {
                    let gsi_name = self.index_name(table, &index.name);
                    let description = self.describe(&self.name(table)).await?;
                    let exists = description.as_ref().is_some_and(|d| {
                        d.global_secondary_indexes()
                            .iter()
                            .any(|g| g.index_name() == Some(&gsi_name))
                    });
                    if !exists {
                        let mut gsi = CreateGlobalSecondaryIndexAction::builder()
                            .index_name(&gsi_name)
                            .projection(
                                Projection::builder()
                                    .projection_type(ProjectionType::All)
                                    .build(),
                            );
                        // The table's attribute definitions stay as they are, with the new
                        // index's keys added: the request gives the whole set (moto replaces
                        // the set with the request's).
                        let mut definitions: Vec<AttributeDefinition> = description
                            .as_ref()
                            .map(|d| d.attribute_definitions().to_vec())
                            .unwrap_or_default();
                        for key in &index.columns {
                            gsi = gsi.key_schema(key_element(&key.column, key_type(key)));
                            if !definitions.iter().any(|d| d.attribute_name() == key.column) {
                                definitions.push(attribute(&key.column, column_type(&key.column)?));
                            }
                        }
                        let request = self
                            .client
                            .update_table()
                            .table_name(self.name(table))
                            .set_attribute_definitions(Some(definitions));
                        let gsi = gsi.build().map_err(|e| self.unsupported(e.to_string()))?;
                        request
                            .global_secondary_index_updates(
                                GlobalSecondaryIndexUpdate::builder().create(gsi).build(),
                            )
                            .send()
                            .await
                            .map_err(|e| self.error(e))?;
                    }
                    self.wait_active(&self.name(table), Some(&gsi_name)).await?;
                }
            }
            Operation::DropIndex { table, index } => {
                let unique = live
                    .as_ref()
                    .and_then(|t| t.index(index))
                    .is_some_and(|i| i.unique);
                let physical = self.index_name(table, index);
                if unique {
                    self.delete_table(&physical).await?;
                } else {
                    let exists = self.describe(&self.name(table)).await?.is_some_and(|d| {
                        d.global_secondary_indexes()
                            .iter()
                            .any(|g| g.index_name() == Some(physical.as_str()))
                    });
                    if exists {
                        let delete = DeleteGlobalSecondaryIndexAction::builder()
                            .index_name(&physical)
                            .build()
                            .map_err(|e| self.unsupported(e.to_string()))?;
                        self.client
                            .update_table()
                            .table_name(self.name(table))
                            .global_secondary_index_updates(
                                GlobalSecondaryIndexUpdate::builder().delete(delete).build(),
                            )
                            .send()
                            .await
                            .map_err(|e| self.error(e))?;
                    }
                    self.wait_active(&self.name(table), None).await?;
                }
            }
            Operation::AddColumn { column, .. } => {
                if let Some(value) = fill(column) {
                    self.fill_items(&live_table()?, &column.name, value).await?;
                }
            }
            Operation::DropColumn { column, .. } => {
                self.rewrite_items(
                    &live_table()?,
                    &format!("remove {column}"),
                    ItemWrite::remove(column),
                    |item| Ok(item.contains_key(column).then(HashMap::new)),
                )
                .await?;
            }
            Operation::ModifyColumn { from, to, .. } => {
                let t = live_table()?;
                // Everything refused is refused before the first item is written.
                if t.primary_key.iter().any(|k| k.column == from.name) {
                    return Err(self.unsupported(format!(
                        "`{op}`: a DynamoDB key attribute cannot be changed in place"
                    )));
                }
                if Stored::of(&from.ty) != Stored::of(&to.ty)
                    && let Some(index) = t
                        .indexes
                        .iter()
                        .find(|i| i.columns.iter().any(|c| c.column == from.name))
                {
                    return Err(self.unsupported(format!(
                        "`{op}`: the column is a key of index {}, and DynamoDB fixes an index key's \
                         type; drop the index, change the column, then create the index again",
                        index.name
                    )));
                }
                self.modify_items(op, &t, from, to).await?;
                if let (true, false, Some(value)) = (from.nullable, to.nullable, fill(to)) {
                    self.fill_items(&t, &to.name, value).await?;
                }
            }
            Operation::Raw { .. } => {
                return Err(self.unsupported("raw statements have no meaning on DynamoDB".into()));
            }
        }
        // Keep the registry as the operation leaves the table.
        let mut after = SchemaSnapshot::new(live.into_iter().cloned().collect());
        after.apply(op)?;
        match op {
            Operation::DropTable { table } => self.unregister(table).await?,
            other => {
                if let Some(t) = other.table().and_then(|t| after.table(t)) {
                    self.register(t).await?;
                }
            }
        }
        Ok(())
    }

    /// A unique index is a table keyed by the column, filled from the items that have it; two
    /// items with one value are refused.
    async fn create_unique_index(
        &self,
        table: &TableSnapshot,
        index: &IndexDef,
        ty: ScalarAttributeType,
    ) -> Result<()> {
        if index.columns.len() != 1 {
            return Err(self.unsupported(format!(
                "unique index {}: Toasty 0.11 supports only single-column unique indexes on DynamoDB",
                index.name
            )));
        }
        let column = index.columns[0].column.clone();
        let name = self.index_name(&table.name, &index.name);
        if self.describe(&name).await?.is_none() {
            self.client
                .create_table()
                .table_name(&name)
                .key_schema(key_element(&column, KeyType::Hash))
                .attribute_definitions(attribute(&column, ty))
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
                .map_err(|e| self.error(e))?;
        }
        self.wait_active(&name, None).await?;
        let (name, column) = (&name, &column);
        let filled = self
            .for_each_page(
                &table.name,
                &format!("fill index {}", index.name),
                |page| async move {
                    let mut items = page.into_iter().peekable();
                    while items.peek().is_some() {
                        let batch = items
                            .by_ref()
                            .take(BATCH)
                            .map(|item| self.put_index_entry(table, index, name, column, item));
                        for put in futures_util::future::join_all(batch).await {
                            put?;
                        }
                    }
                    Ok(())
                },
            )
            .await;
        // A refused index (two items with one value) leaves no table behind: the database is
        // as it was before the step.
        if let Err(refused @ Error::Unsupported { .. }) = filled {
            self.delete_table(name).await?;
            return Err(refused);
        }
        filled
    }

    /// The unique-index entry of one item, if it has a value: put only where the value has no
    /// entry; one that is there already is ours from an interrupted run, or a duplicate.
    async fn put_index_entry(
        &self,
        table: &TableSnapshot,
        index: &IndexDef,
        name: &str,
        column: &str,
        item: Item,
    ) -> Result<()> {
        let Some(value) = item
            .get(column)
            .filter(|v| !matches!(v, AttributeValue::Null(_)))
            .cloned()
        else {
            return Ok(());
        };
        let key = key_of(table, &item);
        let mut entry = key.clone();
        entry.insert(column.to_string(), value.clone());
        let put = self
            .client
            .put_item()
            .table_name(name)
            .set_item(Some(entry))
            .condition_expression("attribute_not_exists(#c)")
            .expression_attribute_names("#c", column)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let existing = self
                    .client
                    .get_item()
                    .table_name(name)
                    .key(column, value.clone())
                    .send()
                    .await
                    .map_err(|e| self.error(e))?;
                let same = existing
                    .item()
                    .is_some_and(|i| key.iter().all(|(k, v)| i.get(k) == Some(v)));
                if same {
                    Ok(())
                } else {
                    Err(self.unsupported(format!(
                        "unique index {}: two items have {column} = {value:?}",
                        index.name
                    )))
                }
            }
            Err(e) => Err(self.error(e)),
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

fn key_element(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

fn attribute(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ty)
        .build()
        .expect("name and type are set")
}

fn key_type(key: &IndexColumn) -> KeyType {
    match key.scope {
        IndexScope::Partition => KeyType::Hash,
        IndexScope::Local => KeyType::Range,
    }
}

/// The DynamoDB scalar type of a key attribute of this column type: the type its values are
/// stored as (a key cannot be BOOL; Toasty has no boolean keys).
fn scalar(ty: &ColumnType) -> ScalarAttributeType {
    match Stored::of(ty) {
        Stored::Number | Stored::Bool => ScalarAttributeType::N,
        Stored::Binary => ScalarAttributeType::B,
        Stored::String | Stored::Other => ScalarAttributeType::S,
    }
}

fn to_attribute(value: &DefaultValue) -> AttributeValue {
    match value {
        DefaultValue::Bool(b) => AttributeValue::Bool(*b),
        DefaultValue::Integer(i) => AttributeValue::N(i.to_string()),
        DefaultValue::Float(f) => AttributeValue::N(f.to_string()),
        DefaultValue::Text(s) => AttributeValue::S(s.clone()),
    }
}

/// The value an item lacking the column gets: its default, or its type's zero if NOT NULL,
/// stored as Toasty stores the type.
fn fill(column: &ColumnDef) -> Option<AttributeValue> {
    match &column.default {
        Some(d) => Some(to_attribute(d)),
        None if !column.nullable => Some(match Stored::of(&column.ty) {
            Stored::Bool => AttributeValue::Bool(false),
            Stored::Number => AttributeValue::N("0".into()),
            Stored::Binary => {
                AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(Vec::new()))
            }
            Stored::String => AttributeValue::S(String::new()),
            Stored::Other => match &column.ty {
                ColumnType::List(_) => AttributeValue::L(Vec::new()),
                _ => AttributeValue::M(HashMap::new()),
            },
        }),
        None => None,
    }
}

/// A fill's expression values, for dry runs.
fn fill_values(value: &AttributeValue) -> String {
    format!(":v = {value:?}, :null = \"NULL\"")
}

/// An item's key for messages: `id = "1"`, or `user_id = "1", id = "2"`.
fn describe_key(table: &TableSnapshot, item: &Item) -> String {
    table
        .primary_key
        .iter()
        .map(|k| match item.get(&k.column) {
            Some(AttributeValue::S(v)) => format!("{} = {v:?}", k.column),
            Some(AttributeValue::N(v)) => format!("{} = {v}", k.column),
            Some(other) => format!("{} = {other:?}", k.column),
            None => format!("{} missing", k.column),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The primary key attributes of an item.
fn key_of(
    table: &TableSnapshot,
    item: &HashMap<String, AttributeValue>,
) -> HashMap<String, AttributeValue> {
    table
        .primary_key
        .iter()
        .filter_map(|k| item.get(&k.column).map(|v| (k.column.clone(), v.clone())))
        .collect()
}

/// `snapshot` as DynamoDB keeps it: key and index columns compared by equality.
pub fn stored_snapshot(snapshot: &SchemaSnapshot) -> SchemaSnapshot {
    let mut stored = snapshot.clone();
    for table in &mut stored.tables {
        let keys = table
            .primary_key
            .iter_mut()
            .chain(table.indexes.iter_mut().flat_map(|i| i.columns.iter_mut()));
        for key in keys {
            key.op = IndexOp::Eq;
        }
    }
    stored
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

    fn plan(&self, op: &Operation, live: &SchemaSnapshot) -> Result<Vec<DynamoStep>> {
        let live = op.table().and_then(|t| live.table(t)).cloned();
        let calls = self.api_calls(op, live.as_ref());
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

    fn atomicity(&self, _: &MigrationPlan) -> Result<Atomicity> {
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
