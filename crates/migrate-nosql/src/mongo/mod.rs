//! The MongoDB backend: each operation becomes database commands (`create` with a `$jsonSchema`
//! validator, `createIndexes`, server-side `update`s for backfills and conversions, `collMod`), run
//! one operation at a time with progress recorded, so an interrupted migration resumes.
//!
//! The validator carries each column's full definition as JSON in its `description`, so
//! introspection reads back exactly what was written.

mod commands;
mod data;
mod journal;

use crate::lease::Renewal;
use commands::{TableMeta, bson_type, check, primary_key_index};
pub use commands::{commands, render, stored_snapshot, validator};
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use std::time::Duration;
use time::OffsetDateTime;
use toasty_migrate::data::Filter;
use toasty_migrate::lint::Finding;
use toasty_migrate::{
    Error, Result,
    backend::{Atomicity, Backend, Executor, Introspect, Journal, JournalRow, Lock, Step, redact},
    files::MigrationPlan,
    schema::{ColumnDef, IndexDef, IndexOp, Operation, SchemaSnapshot, TableSnapshot},
};

/// The collection that records applied migrations.
pub const TRACKING_COLLECTION: &str = "_toasty_migrations";
/// The collection holding the lease document that is the migration lock.
pub const LOCK_COLLECTION: &str = "_toasty_migrations_lock";
const LOCK_ID: &str = "migration-lock";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A migration backend over one MongoDB database.
pub struct MongoBackend {
    db: Database,
    target: String,
    /// Who holds the lease when we do.
    holder: String,
    lease: Duration,
    /// Renews the lease while we hold the lock.
    renewal: Option<Renewal>,
    lock_timeout: Duration,
    /// Show server-side updates' progress on stderr.
    progress: bool,
}

impl MongoBackend {
    /// Connects to `mongodb://host[:port]/<database>`. A server that does not answer within
    /// 10 s is an error, not a hang.
    pub async fn connect(url: &str) -> Result<Self> {
        let target = redact(url);
        // The error's kind says what went wrong; its own Display adds labels and debug dumps.
        let fail = |e: mongodb::error::Error| {
            Error::driver(&target, format!("cannot connect: {}", e.kind), e)
        };
        let mut options = ClientOptions::parse(url).await.map_err(fail)?;
        let database = options
            .default_database
            .clone()
            .ok_or_else(|| Error::Unsupported {
                target: target.clone(),
                message: "the URL names no database: use mongodb://host:port/<database>".into(),
            })?;
        // The driver waits out its server selection timeout even when every port refuses.
        let mut refusals = Vec::new();
        for host in &options.hosts {
            if let mongodb::options::ServerAddress::Tcp { host, port } = host
                && let Some(refused) = crate::connect::refused(host, port.unwrap_or(27017)).await
            {
                refusals.push(refused);
            }
        }
        if !refusals.is_empty() && refusals.len() == options.hosts.len() {
            return Err(Error::backend(target, refusals.join("; ")));
        }
        options.server_selection_timeout = Some(CONNECT_TIMEOUT);
        options.connect_timeout = Some(CONNECT_TIMEOUT);
        let client = Client::with_options(options).map_err(fail)?;
        let db = client.database(&database);
        db.run_command(doc! { "ping": 1 }).await.map_err(fail)?;
        Ok(MongoBackend {
            db,
            target,
            holder: crate::lease::holder_id(),
            lease: crate::lease::DEFAULT_LEASE,
            renewal: None,
            lock_timeout: Duration::from_secs(60),
            progress: false,
        })
    }

    /// How long `lock` waits for another runner (default 60 s).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Shows a progress bar on stderr while a server-side update runs, from counts of the
    /// documents it has left (nothing is drawn where stderr is not a terminal). Off by default:
    /// a library does not draw unless asked.
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

    /// A failure the driver reported.
    fn error(&self, e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::driver(&self.target, e.to_string(), e)
    }

    /// The application's collections (those with a toasty-migrate validator) as a snapshot.
    async fn read_schema(&self) -> Result<SchemaSnapshot> {
        let mut tables = Vec::new();
        for name in self.collection_names().await? {
            tables.extend(self.table(&name).await?);
        }
        Ok(SchemaSnapshot::new(tables))
    }

    async fn collection_names(&self) -> Result<Vec<String>> {
        let names = self
            .db
            .list_collection_names()
            .await
            .map_err(|e| self.error(e))?;
        Ok(names
            .into_iter()
            .filter(|n| {
                n != TRACKING_COLLECTION && n != LOCK_COLLECTION && !n.starts_with("system.")
            })
            .collect())
    }

    /// One collection read back: columns from its validator, indexes from `listIndexes`.
    async fn table(&self, name: &str) -> Result<Option<TableSnapshot>> {
        let reply = self
            .db
            .run_command(doc! { "listCollections": 1, "filter": { "name": name } })
            .await
            .map_err(|e| self.error(e))?;
        let info = reply
            .get_document("cursor")
            .ok()
            .and_then(|c| c.get_array("firstBatch").ok())
            .and_then(|batch| batch.first())
            .and_then(Bson::as_document);
        let Some(schema) = info
            .and_then(|i| i.get_document("options").ok())
            .and_then(|o| o.get_document("validator").ok())
            .and_then(|v| v.get_document("$jsonSchema").ok())
        else {
            return Ok(None);
        };
        let table_meta: TableMeta = match schema
            .get_str("description")
            .ok()
            .and_then(|d| serde_json::from_str(d).ok())
        {
            Some(meta) => meta,
            None => return Ok(None),
        };
        let mut columns = Vec::new();
        if let Ok(properties) = schema.get_document("properties") {
            for (field, property) in properties {
                let column: ColumnDef = property
                    .as_document()
                    .and_then(|p| p.get_str("description").ok())
                    .and_then(|d| serde_json::from_str(d).ok())
                    .ok_or_else(|| {
                        Error::backend(
                            &self.target,
                            format!("collection {name}: field {field} has no column description"),
                        )
                    })?;
                columns.push(column);
            }
        }
        let reply = self
            .db
            .run_command(doc! { "listIndexes": name })
            .await
            .map_err(|e| self.error(e))?;
        let mut indexes = Vec::new();
        let batch = reply
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .map_err(|e| self.error(e))?;
        for index in batch.iter().filter_map(Bson::as_document) {
            let index_name = index.get_str("name").unwrap_or_default();
            if index_name == "_id_" || index_name == primary_key_index(name) {
                continue;
            }
            let keys = index.get_document("key").map_err(|e| self.error(e))?;
            indexes.push(IndexDef {
                name: index_name.to_string(),
                columns: keys
                    .iter()
                    .map(|(column, direction)| toasty_migrate::schema::IndexColumn {
                        op: if direction.as_i32() == Some(-1) || direction.as_i64() == Some(-1) {
                            IndexOp::Desc
                        } else {
                            IndexOp::Eq
                        },
                        ..toasty_migrate::schema::IndexColumn::new(column.clone())
                    })
                    .collect(),
                unique: index.get_bool("unique").unwrap_or(false),
            });
        }
        Ok(Some(TableSnapshot {
            name: name.to_string(),
            columns,
            primary_key: table_meta.primary_key,
            indexes,
        }))
    }

    /// Runs a command; an `update` over many documents with a progress bar that counts the
    /// documents its filter still matches.
    async fn run_command(&self, command: Document) -> Result<()> {
        let update = match (
            self.progress,
            command.get_str("update"),
            command.get_array("updates"),
        ) {
            (true, Ok(collection), Ok(updates)) => updates
                .first()
                .and_then(|u| u.as_document())
                .and_then(|u| u.get_document("q").ok())
                .map(|filter| (collection.to_string(), filter.clone())),
            _ => None,
        };
        let Some((collection, filter)) = update else {
            return self.run_command_once(command).await;
        };
        let documents = self.db.collection::<Document>(&collection);
        let left = || documents.count_documents(filter.clone());
        let total = left().await.map_err(|e| self.error(e))?;
        let bar = toasty_migrate::progress::bar(
            true,
            total,
            "documents",
            format!("{collection}: update"),
        );
        let watch = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                // Only a display: a failed count waits for the next.
                if let Ok(now) = left().await {
                    bar.set_position(total.saturating_sub(now));
                }
            }
        };
        let result = tokio::select! {
            done = self.run_command_once(command) => done,
            never = watch => never,
        };
        bar.finish_and_clear();
        result
    }

    async fn run_command_once(&self, command: Document) -> Result<()> {
        // Re-running a half-done operation after an interruption meets what it already did.
        const ALREADY_DONE: [i32; 3] = [
            48, // NamespaceExists: the collection was created
            26, // NamespaceNotFound: the collection was dropped
            27, // IndexNotFound: the index was dropped
        ];
        match self.db.run_command(command.clone()).await {
            // A write command reports the documents it could not write in its reply, with
            // `ok: 1`.
            Ok(reply) => match reply
                .get_array("writeErrors")
                .ok()
                .and_then(|errors| errors.first())
                .or_else(|| reply.get("writeConcernError"))
            {
                None => Ok(()),
                Some(error) => Err(Error::backend(
                    &self.target,
                    format!(
                        "{}\n  in: {}",
                        error
                            .as_document()
                            .and_then(|e| e.get_str("errmsg").ok())
                            .map_or_else(|| error.to_string(), str::to_string),
                        render(&command)
                    ),
                )),
            },
            Err(e) => match *e.kind {
                mongodb::error::ErrorKind::Command(ref c) if ALREADY_DONE.contains(&c.code) => {
                    Ok(())
                }
                _ => Err(Error::driver(
                    &self.target,
                    format!("{e}\n  in: {}", render(&command)),
                    e,
                )),
            },
        }
    }

    /// Refuses a type change that a stored value cannot make, naming one, before any document
    /// is written (the update's `$convert` would otherwise keep such a value in its old type).
    async fn check_convertible(&self, table: &str, from: &ColumnDef, to: &ColumnDef) -> Result<()> {
        use futures_util::TryStreamExt;
        // No value converts to this: it marks the ones that fail.
        const UNCONVERTIBLE: &str = "\u{1}toasty-migrate: no conversion";
        let field = format!("${}", from.name);
        let pipeline = vec![
            doc! { "$match": { &from.name: { "$exists": true, "$ne": Bson::Null } } },
            doc! { "$project": {
                "value": &field,
                "converted": { "$convert": { "input": &field, "to": bson_type(&to.ty), "onError": UNCONVERTIBLE, "onNull": Bson::Null } },
            } },
            doc! { "$match": { "converted": UNCONVERTIBLE } },
            doc! { "$limit": 1 },
        ];
        let found = self
            .db
            .collection::<Document>(table)
            .aggregate(pipeline)
            .await
            .map_err(|e| self.error(e))?
            .try_next()
            .await
            .map_err(|e| self.error(e))?;
        match found {
            None => Ok(()),
            Some(doc) => Err(Error::Unsupported {
                target: self.target.clone(),
                message: format!(
                    "cannot change {table}.{} to {}: document {} holds {}, which has no {} form; \
                     nothing was changed",
                    from.name,
                    to.ty,
                    doc.get("_id").map_or("?".into(), |id| id.to_string()),
                    doc.get("value").map_or("?".into(), |v| v.to_string()),
                    bson_type(&to.ty),
                ),
            }),
        }
    }
}

/// One operation's commands, planned against its collection as the earlier operations leave it.
pub struct MongoStep {
    op: Operation,
    commands: Vec<Document>,
    /// For an insert: the query that finds its rows by key, and how many there are, so that a
    /// resumed run can tell whether an interrupted insert finished.
    inserted: Option<(String, Document, u64)>,
}

impl Step for MongoStep {
    fn describe(&self) -> Vec<String> {
        self.commands.iter().map(render).collect()
    }

    /// The operation, not its commands: a journal's record of the operations done stays valid
    /// whatever their commands' rendering.
    fn key(&self) -> Vec<u8> {
        serde_json::to_vec(&self.op).expect("operations serialize")
    }
}

/// MongoDB has no transaction for collection changes, so the core journals a migration operation
/// by operation, each one's commands safe to run again.
impl Executor for MongoBackend {
    type Step = MongoStep;

    /// Collection names MongoDB refuses, and field names its update operators would read as a
    /// path (`a.b`) or an operator (`$a`).
    fn check(&self, op: &Operation) -> std::result::Result<(), String> {
        check(self.db.name(), op)
    }

    fn lint(&self, op: &Operation, table: &TableSnapshot, _: bool) -> Vec<Finding> {
        lint(op, table)
    }

    fn plan(
        &self,
        op: &Operation,
        table: Option<&TableSnapshot>,
        _: bool,
    ) -> Result<Vec<MongoStep>> {
        let unsupported = |message| Error::Unsupported {
            target: self.target.clone(),
            message,
        };
        let commands = commands(op, table).map_err(unsupported)?;
        let inserted = match (op, table) {
            (Operation::InsertRows { table: name, rows }, Some(t)) => Some((
                name.clone(),
                data::query(t, &toasty_migrate::data::key_filter(t, rows)).map_err(unsupported)?,
                rows.len() as u64,
            )),
            _ => None,
        };
        Ok(vec![MongoStep {
            op: op.clone(),
            commands,
            inserted,
        }])
    }

    async fn estimated_rows(&mut self, table: &str) -> Option<u64> {
        self.db
            .collection::<Document>(table)
            .estimated_document_count()
            .await
            .ok()
    }

    async fn count_rows(&mut self, table: &TableSnapshot, filter: &Filter) -> Result<u64> {
        let query = data::query(table, filter).map_err(|message| Error::Unsupported {
            target: self.target.clone(),
            message,
        })?;
        self.db
            .collection::<Document>(&table.name)
            .count_documents(query)
            .await
            .map_err(|e| self.error(e))
    }

    /// An insert whose rows are all there finished before its runner stopped.
    async fn took_effect(&mut self, step: &MongoStep) -> Result<bool> {
        let Some((collection, query, rows)) = &step.inserted else {
            return Ok(false);
        };
        let found = self
            .db
            .collection::<Document>(collection)
            .count_documents(query.clone())
            .await
            .map_err(|e| self.error(e))?;
        Ok(found == *rows)
    }

    /// The operation's commands, under the lease; a type change first checks that every value
    /// converts.
    async fn perform(&mut self, step: &MongoStep) -> Result<()> {
        if let Operation::ModifyColumn { table, from, to } = &step.op
            && bson_type(&from.ty) != bson_type(&to.ty)
        {
            self.check_convertible(table, from, to).await?;
        }
        let run = async {
            for cmd in &step.commands {
                self.run_command(cmd.clone()).await?;
            }
            Ok(())
        };
        crate::lease::holding(&self.target, self.lease, || self.take_lease(), run).await
    }

    fn atomicity(&self, _: &MigrationPlan, _: &[MongoStep]) -> Result<Atomicity> {
        Ok(Atomicity::Journal)
    }
}

impl Introspect for MongoBackend {
    async fn introspect(&mut self) -> Result<SchemaSnapshot> {
        self.read_schema().await
    }

    fn stored(&self, snapshot: &SchemaSnapshot) -> SchemaSnapshot {
        stored_snapshot(snapshot)
    }

    /// The validator lists fields in the order the migrations put them.
    fn keeps_column_order(&self) -> bool {
        true
    }
}

impl Backend for MongoBackend {
    fn target(&self) -> String {
        self.target.clone()
    }
}

/// MongoDB's lint findings for `op` on `table` (pure; see [`crate::lint`]): an update of every
/// document, where a converted column's type changes.
pub fn lint(op: &Operation, table: &TableSnapshot) -> Vec<Finding> {
    crate::lint::rewrite("mongodb-rewrite", op, table, "document", |from, to| {
        from.ty != to.ty
    })
    .into_iter()
    .collect()
}
