//! MongoDB's tracking rows (`_toasty_migrations`, one document per migration) and its lock (a
//! lease document under a unique `_id` in `_toasty_migrations_lock`).

use super::*;

impl MongoBackend {
    fn tracking(&self) -> mongodb::Collection<Document> {
        self.db.collection(TRACKING_COLLECTION)
    }

    /// Takes the lease, or renews it if we hold it; `false` if another runner holds a live one.
    pub(super) async fn take_lease(&self) -> Result<bool> {
        take_lease(&self.db, &self.holder, self.lease)
            .await
            .map_err(|e| self.error(e))
    }

    /// A tracking row from its document.
    fn journal_row(row: &Document) -> JournalRow {
        let n = |k: &str| row.get_i64(k).unwrap_or(0).max(0);
        let at = row
            .get_datetime("applied_at")
            .map(|d| d.timestamp_millis())
            .unwrap_or(0);
        JournalRow {
            version: row.get_str("_id").unwrap_or_default().to_string(),
            name: row.get_str("name").unwrap_or_default().to_string(),
            checksum: row.get_str("checksum").unwrap_or_default().to_string(),
            applied_at: OffsetDateTime::from_unix_timestamp_nanos(at as i128 * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            execution_time: Duration::from_millis(n("execution_ms") as u64),
            done: n("statements_done") as usize,
            total: n("statements_total") as usize,
            steps_checksum: row
                .get_str("statements_checksum")
                .unwrap_or_default()
                .to_string(),
            reverting: row.get_bool("reverting").unwrap_or(false),
        }
    }
}

/// [`MongoBackend::take_lease`], on what it needs alone (the renewal task owns copies).
async fn take_lease(db: &Database, holder: &str, lease: Duration) -> mongodb::error::Result<bool> {
    let locks = db.collection::<Document>(LOCK_COLLECTION);
    let now = OffsetDateTime::now_utc();
    let expires = mongodb::bson::DateTime::from_millis(
        ((now + lease).unix_timestamp_nanos() / 1_000_000) as i64,
    );
    let now = mongodb::bson::DateTime::from_millis((now.unix_timestamp_nanos() / 1_000_000) as i64);
    // Ours, or expired: take it over in one conditional write.
    let taken = locks
        .update_one(
            doc! { "_id": LOCK_ID, "$or": [ { "holder": holder }, { "expires_at": { "$lt": now } } ] },
            doc! { "$set": { "holder": holder, "expires_at": expires } },
        )
        .await?;
    if taken.matched_count == 1 {
        return Ok(true);
    }
    // Nobody's: the unique `_id` lets exactly one runner create it.
    match locks
        .insert_one(doc! { "_id": LOCK_ID, "holder": holder, "expires_at": expires })
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_duplicate_key(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether a write failed on a duplicate key (E11000).
fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match *e.kind {
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(ref w)) => {
            w.code == 11000
        }
        mongodb::error::ErrorKind::Command(ref c) => c.code == 11000,
        _ => false,
    }
}

/// `_toasty_migrations`, one document per migration.
impl Journal for MongoBackend {
    async fn ensure_journal(&mut self) -> Result<()> {
        // Collections are created by their first write.
        Ok(())
    }

    async fn rows(&mut self) -> Result<Vec<JournalRow>> {
        use futures_util::TryStreamExt;
        let rows: Vec<Document> = self
            .tracking()
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .map_err(|e| self.error(e))?
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        Ok(rows.iter().map(Self::journal_row).collect())
    }

    async fn read_row(&mut self, version: &str) -> Result<Option<JournalRow>> {
        let row = self
            .tracking()
            .find_one(doc! { "_id": version })
            .await
            .map_err(|e| self.error(e))?;
        Ok(row.as_ref().map(Self::journal_row))
    }

    async fn write_row(&mut self, row: &JournalRow) -> Result<()> {
        let at = mongodb::bson::DateTime::from_millis(
            (row.applied_at.unix_timestamp_nanos() / 1_000_000) as i64,
        );
        self.tracking()
            .replace_one(
                doc! { "_id": &row.version },
                doc! {
                    "_id": &row.version,
                    "name": &row.name,
                    "checksum": &row.checksum,
                    "applied_at": at,
                    "execution_ms": row.execution_time.as_millis() as i64,
                    "statements_done": row.done as i64,
                    "statements_total": row.total as i64,
                    "statements_checksum": &row.steps_checksum,
                    "reverting": row.reverting,
                },
            )
            .upsert(true)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn delete_row(&mut self, version: &str) -> Result<()> {
        self.tracking()
            .delete_one(doc! { "_id": version })
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}

/// The lease, taken by one conditional write and renewed by a task of its own while held; the
/// core polls it.
impl Lock for MongoBackend {
    async fn try_lock(&mut self) -> Result<bool> {
        let taken = self.take_lease().await?;
        if taken && self.renewal.is_none() {
            let (db, holder, lease) = (self.db.clone(), self.holder.clone(), self.lease);
            self.renewal = Some(Renewal::start(lease, move || {
                let (db, holder) = (db.clone(), holder.clone());
                async move { take_lease(&db, &holder, lease).await }
            }));
        }
        Ok(taken)
    }

    async fn unlock(&mut self) -> Result<()> {
        self.renewal = None;
        self.db
            .collection::<Document>(LOCK_COLLECTION)
            .delete_one(doc! { "_id": LOCK_ID, "holder": &self.holder })
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    async fn pause(&self, duration: Duration) {
        tokio::time::sleep(duration).await
    }
}
