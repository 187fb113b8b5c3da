//! The registry table (`_toasty_migrations_schema`): each table's full definition, which
//! DynamoDB keeps none of for non-key attributes; introspection combines it with `DescribeTable`.

use super::*;

impl DynamoBackend {
    /// The registry: each table's definition, as the migrations left it.
    pub(super) async fn registry(&self) -> Result<SchemaSnapshot> {
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
    pub(super) async fn scan_internal(
        &self,
        table: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>> {
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

    pub(super) async fn register(&self, table: &TableSnapshot) -> Result<()> {
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

    pub(super) async fn unregister(&self, table: &str) -> Result<()> {
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
    pub(super) async fn read_schema(&self) -> Result<SchemaSnapshot> {
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
