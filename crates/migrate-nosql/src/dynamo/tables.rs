//! DynamoDB tables themselves: created, described, waited on until active or gone, deleted;
//! and the key schema Toasty gives them.

use super::*;

impl DynamoBackend {
    /// Creates an internal table keyed by one string attribute, if missing.
    pub(super) async fn ensure_table(&self, table: &str, key: &str) -> Result<()> {
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

    pub(super) async fn describe(
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
    pub(super) async fn wait_active(&self, name: &str, index: Option<&str>) -> Result<()> {
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
    pub(super) async fn delete_table(&self, name: &str) -> Result<()> {
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

    pub(super) async fn wait_deleted(&self, name: &str) -> Result<()> {
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
}

pub(super) fn key_element(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and type are set")
}

pub(super) fn attribute(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ty)
        .build()
        .expect("name and type are set")
}

pub(super) fn key_type(key: &IndexColumn) -> KeyType {
    match key.scope {
        IndexScope::Partition => KeyType::Hash,
        IndexScope::Local => KeyType::Range,
    }
}

/// The DynamoDB scalar type of a key attribute of this column type: the type its values are
/// stored as (a key cannot be BOOL; Toasty has no boolean keys).
pub(super) fn scalar(ty: &ColumnType) -> ScalarAttributeType {
    match Stored::of(ty) {
        Stored::Number | Stored::Bool => ScalarAttributeType::N,
        Stored::Binary => ScalarAttributeType::B,
        Stored::String | Stored::Other => ScalarAttributeType::S,
    }
}
