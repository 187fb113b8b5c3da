//! Item rewrites: backfills, drops, renames and conversions of an attribute on every item, by a
//! parallel scan page by page and conditional `UpdateItem`s that are safe to repeat.

use super::*;

impl DynamoBackend {
    /// Every item of a table, page by page in parallel segments, each page passed to `each`.
    /// With [`with_progress`](Self::with_progress), a bar on stderr counts the items, against
    /// DynamoDB's estimate of the table's size.
    pub(super) async fn for_each_page<F, Fut>(&self, table: &str, what: &str, each: F) -> Result<()>
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
                    toasty_migrate::progress::advance(progress, count);
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

    pub(super) async fn progress_bar(&self, table: &str, what: &str) -> Result<ProgressBar> {
        let estimate = match self.progress {
            true => self
                .describe(&self.name(table))
                .await?
                .and_then(|d| d.item_count())
                .unwrap_or(0),
            false => 0,
        };
        Ok(toasty_migrate::progress::bar(
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
    pub(super) async fn rewrite_items(
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
    pub(super) async fn write_batch(
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

    /// Gives every item without a value for `column` (absent, or NULL) `value`.
    pub(super) async fn fill_items(
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
    pub(super) async fn modify_items(
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
}

/// The conditional update every item of a rewrite gets (the values differ per item); one
/// definition for the run and its dry run.
pub(super) struct ItemWrite {
    expression: &'static str,
    condition: &'static str,
    /// Expression attribute names: placeholder, attribute.
    names: Vec<(&'static str, String)>,
}

impl ItemWrite {
    /// `:v` where the attribute is absent or NULL.
    pub(super) fn fill(column: &str) -> ItemWrite {
        ItemWrite {
            expression: "SET #a = :v",
            condition: "attribute_not_exists(#a) OR attribute_type(#a, :null)",
            names: vec![("#a", column.to_string())],
        }
    }

    pub(super) fn remove(column: &str) -> ItemWrite {
        ItemWrite {
            expression: "REMOVE #a",
            condition: "attribute_exists(#a)",
            names: vec![("#a", column.to_string())],
        }
    }

    /// The old attribute's value (`:v`, converted if the type changes) under the new name.
    pub(super) fn rename(from: &str, to: &str) -> ItemWrite {
        ItemWrite {
            expression: "SET #new = :v REMOVE #old",
            condition: "attribute_exists(#old)",
            names: vec![("#new", to.to_string()), ("#old", from.to_string())],
        }
    }

    /// The converted value `:v` where the item still holds the value read, `:old`.
    pub(super) fn convert(column: &str) -> ItemWrite {
        ItemWrite {
            expression: "SET #a = :v",
            condition: "#a = :old",
            names: vec![("#a", column.to_string())],
        }
    }

    /// For dry runs: the scan and the update, with the attribute names in place.
    pub(super) fn describe(&self, table: &str, values: &str) -> String {
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

/// The value an item lacking the column gets: its default, or its type's zero if NOT NULL,
/// stored as Toasty stores the type.
pub(super) fn fill(column: &ColumnDef) -> Option<AttributeValue> {
    match &column.default {
        Some(d) => Some(super::data::to_attribute(&d.into())),
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
pub(super) fn fill_values(value: &AttributeValue) -> String {
    format!(":v = {value:?}, :null = \"NULL\"")
}

/// An item's key for messages: `id = "1"`, or `user_id = "1", id = "2"`.
pub(super) fn describe_key(table: &TableSnapshot, item: &Item) -> String {
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
pub(super) fn key_of(
    table: &TableSnapshot,
    item: &HashMap<String, AttributeValue>,
) -> HashMap<String, AttributeValue> {
    table
        .primary_key
        .iter()
        .filter_map(|k| item.get(&k.column).map(|v| (k.column.clone(), v.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::schema::DefaultValue;

    #[test]
    fn a_rewrite_describes_itself_with_its_attribute_names_in_place() {
        let rename = ItemWrite::rename("mail", "email").describe("users", "");
        assert_eq!(
            rename,
            "Scan users (4 segments); per item, 25 at once per segment: \
             UpdateItem SET email = :v REMOVE mail IF attribute_exists(mail)"
        );
        let fill = ItemWrite::fill("age").describe("users", ":v = 0");
        assert!(
            fill.ends_with("IF attribute_not_exists(age) OR attribute_type(age, :null) (:v = 0)"),
            "{fill}"
        );
    }

    #[test]
    fn an_item_lacking_a_column_gets_its_default_or_its_zero_if_not_null() {
        let nullable = ColumnDef {
            nullable: true,
            ..ColumnDef::new("nick", ColumnType::Text)
        };
        assert_eq!(fill(&nullable), None);
        let required = ColumnDef::new("age", ColumnType::Integer(4));
        assert_eq!(fill(&required), Some(AttributeValue::N("0".into())));
        let defaulted = ColumnDef {
            default: Some(DefaultValue::Text("x".into())),
            ..nullable
        };
        assert_eq!(fill(&defaulted), Some(AttributeValue::S("x".into())));
    }
}
