//! What each operation becomes: the API calls a dry run lists (`api_calls`), and performing it
//! (`apply`), registering the table as the operation leaves it.

use super::*;

/// The table a data step names.
fn op_table(op: &Operation) -> String {
    op.table().unwrap_or_default().to_string()
}

impl DynamoBackend {
    /// The API calls `op` becomes, for dry runs; `live` is its table as the registry has it.
    pub(super) fn api_calls(&self, op: &Operation, live: Option<&TableSnapshot>) -> Vec<String> {
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
            Operation::InsertRows { rows, .. } => {
                let unique = live.map_or(0, |t| t.indexes.iter().filter(|i| i.unique).count());
                let write = match unique {
                    0 => format!(
                        "PutItem {} IF attribute_not_exists(key)",
                        table(&op_table(op))
                    ),
                    n => format!(
                        "TransactWriteItems [PutItem {} IF attribute_not_exists(key), {n} unique-index PutItem(s) IF attribute_not_exists(value)]",
                        table(&op_table(op))
                    ),
                };
                rows.iter()
                    .map(|row| {
                        let values: Vec<String> =
                            row.iter().map(|(c, v)| format!("{c} = {v}")).collect();
                        format!("{write} {{{}}}", values.join(", "))
                    })
                    .collect()
            }
            Operation::UpdateRows { set, filter, .. } => {
                let moved: Vec<&str> = live
                    .map(|t| {
                        t.indexes
                            .iter()
                            .filter(|i| {
                                i.unique && set.iter().any(|(c, _)| *c == i.columns[0].column)
                            })
                            .map(|i| i.name.as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                let set: Vec<String> = set.iter().map(|(c, e)| format!("{c} = {e}")).collect();
                let mut call = format!(
                    "Scan {} ({SEGMENTS} segments); per item where {filter}, {BATCH} at once per segment: \
                     UpdateItem SET {} (REMOVE where null) IF attribute_exists(key)",
                    table(&op_table(op)),
                    set.join(", ")
                );
                if !moved.is_empty() {
                    call.push_str(&format!(
                        "; where a value of unique index {} changes, TransactWriteItems [that \
                         UpdateItem, DeleteItem the old entry, PutItem the new IF \
                         attribute_not_exists(value)]",
                        moved.join(", ")
                    ));
                }
                vec![call]
            }
            Operation::DeleteRows { filter, .. } => vec![format!(
                "Scan {} ({SEGMENTS} segments); per item where {filter}: DeleteItem its unique-index \
                 entries, then DeleteItem the item",
                table(&op_table(op))
            )],
            Operation::Irreversible { .. } => Vec::new(),
        }
    }

    /// Applies one operation to its table, `live` as it is now, and registers what the
    /// operation leaves.
    pub(super) async fn apply(&self, op: &Operation, live: Option<&TableSnapshot>) -> Result<()> {
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
            // Data steps leave the schema, and so the registry, as they are.
            Operation::InsertRows { rows, .. } => {
                return self.insert_rows(&live_table()?, rows).await;
            }
            Operation::UpdateRows { set, filter, .. } => {
                return self.update_rows(&live_table()?, set, filter).await;
            }
            Operation::DeleteRows { filter, .. } => {
                return self.delete_rows(&live_table()?, filter).await;
            }
            Operation::Irreversible { .. } => return Ok(()),
        }
        // Keep the registry as the operation leaves the table.
        let mut after =
            IndexedSchema::from(SchemaSnapshot::new(live.into_iter().cloned().collect()));
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
}
