//! Data steps on DynamoDB. Inserts are written as Toasty writes an item: a conditional `PutItem`,
//! or, where the table has unique indexes, one `TransactWriteItems` with the item and its
//! unique-index entries. Updates and deletes scan the table in parallel segments, evaluate the
//! filter and the expressions on each item here (with SQL's meaning of null), and write each item
//! with a condition, so a repeated run is harmless; an update that changes a unique-indexed value
//! moves its index entry in the same transaction as the item.

use super::*;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use toasty_migrate::data::{Expr, Row, Value};

/// How a value is stored (Toasty's `to_ddb` for the types data steps set).
pub(super) fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Integer(i) => AttributeValue::N(i.to_string()),
        Value::Float(f) => AttributeValue::N(f.to_string()),
        Value::Text(s) => AttributeValue::S(s.clone()),
    }
}

/// A stored attribute as a value; absent and NULL are null.
fn from_attribute(value: Option<&AttributeValue>) -> Result<Value, String> {
    Ok(match value {
        None | Some(AttributeValue::Null(_)) => Value::Null,
        Some(AttributeValue::Bool(b)) => Value::Bool(*b),
        Some(AttributeValue::N(n)) => match n.parse::<i64>() {
            Ok(i) => Value::Integer(i),
            Err(_) => Value::Float(n.parse().map_err(|_| format!("{n:?} is not a number"))?),
        },
        Some(AttributeValue::S(s)) => Value::Text(s.clone()),
        Some(other) => return Err(format!("data steps cannot read {other:?}")),
    })
}

/// Equal as SQL compares: numbers by value, never null.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Integer(x), Value::Float(y)) | (Value::Float(y), Value::Integer(x)) => {
            (*x as f64) == *y
        }
        (a, b) => a == b,
    }
}

/// Whether `item` is a row `filter` matches.
pub(super) fn matches(filter: &Filter, item: &Item) -> Result<bool, String> {
    let get = |c: &str| from_attribute(item.get(c));
    Ok(match filter {
        Filter::All => true,
        Filter::Eq(c, v) => same(&get(c)?, v),
        Filter::Ne(c, v) => {
            let found = get(c)?;
            found != Value::Null && !same(&found, v)
        }
        Filter::IsNull(c) => get(c)? == Value::Null,
        Filter::IsNotNull(c) => get(c)? != Value::Null,
        Filter::In(c, vs) => {
            let found = get(c)?;
            vs.iter().any(|v| same(&found, v))
        }
        Filter::And(fs) => {
            for f in fs {
                if !matches(f, item)? {
                    return Ok(false);
                }
            }
            true
        }
        Filter::Or(fs) => {
            for f in fs {
                if matches(f, item)? {
                    return Ok(true);
                }
            }
            false
        }
    })
}

/// The value `expr` gives over `item`: a function of null is null, as in SQL.
pub(super) fn eval(expr: &Expr, item: &Item) -> Result<Value, String> {
    let text = |e: &Expr, f: fn(&str) -> String| -> Result<Value, String> {
        Ok(match eval(e, item)? {
            Value::Text(s) => Value::Text(f(&s)),
            Value::Null => Value::Null,
            other => return Err(format!("{other} is not text")),
        })
    };
    Ok(match expr {
        Expr::Value(v) => v.clone(),
        Expr::Column(c) => from_attribute(item.get(c))?,
        Expr::Lower(e) => text(e, str::to_lowercase)?,
        Expr::Upper(e) => text(e, str::to_uppercase)?,
        Expr::Coalesce(es) => {
            for e in es {
                let v = eval(e, item)?;
                if v != Value::Null {
                    return Ok(v);
                }
            }
            Value::Null
        }
        Expr::Concat(es) => {
            let mut out = String::new();
            for e in es {
                match eval(e, item)? {
                    Value::Null => return Ok(Value::Null),
                    Value::Text(s) => out.push_str(&s),
                    other => return Err(format!("concat of {other}, which is not text")),
                }
            }
            Value::Text(out)
        }
        Expr::Cast(e, ty) => {
            let v = eval(e, item)?;
            let fail = || format!("cannot cast {v} to {ty}");
            match (Stored::of(ty), &v) {
                (_, Value::Null) => Value::Null,
                (Stored::String, Value::Text(_)) => v.clone(),
                (Stored::String, Value::Integer(i)) => Value::Text(i.to_string()),
                (Stored::String, Value::Float(f)) => Value::Text(f.to_string()),
                (Stored::Number, Value::Integer(_) | Value::Float(_)) => v.clone(),
                (Stored::Number, Value::Text(s)) => match s.trim().parse::<i64>() {
                    Ok(i) => Value::Integer(i),
                    Err(_) => Value::Float(s.trim().parse().map_err(|_| fail())?),
                },
                _ => return Err(fail()),
            }
        }
    })
}

/// A row as the item Toasty would write: its values, and the default of each column it leaves
/// out (DynamoDB keeps none).
fn item_of(table: &TableSnapshot, row: &Row) -> Item {
    let mut item: Item = row
        .iter()
        .filter(|(_, v)| *v != Value::Null)
        .map(|(c, v)| (c.clone(), to_attribute(v)))
        .collect();
    for column in &table.columns {
        if !item.contains_key(&column.name)
            && column.default.is_some()
            && let Some(value) = fill(column)
        {
            item.insert(column.name.clone(), value);
        }
    }
    item
}

/// An `UpdateItem`'s expressions: the changed columns set, or removed where null, on an item
/// that exists.
struct ItemUpdate {
    expression: String,
    condition: String,
    names: HashMap<String, String>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl ItemUpdate {
    fn of(table: &TableSnapshot, changed: &[(&str, Value)]) -> Self {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        for (i, (column, value)) in changed.iter().enumerate() {
            names.insert(format!("#c{i}"), column.to_string());
            match value {
                Value::Null => removes.push(format!("#c{i}")),
                v => {
                    sets.push(format!("#c{i} = :v{i}"));
                    values.insert(format!(":v{i}"), to_attribute(v));
                }
            }
        }
        let mut expression = String::new();
        if !sets.is_empty() {
            expression.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        names.insert("#k".into(), table.primary_key[0].column.clone());
        ItemUpdate {
            expression: expression.trim().to_string(),
            condition: "attribute_exists(#k)".into(),
            names,
            values: (!values.is_empty()).then_some(values),
        }
    }
}

impl DynamoBackend {
    /// Inserts each row as Toasty does. A row whose key is there already is done (by an
    /// interrupted run) if that item is the row, and a duplicate if not.
    pub(super) async fn insert_rows(&self, table: &TableSnapshot, rows: &[Row]) -> Result<()> {
        let unique: Vec<&IndexDef> = table.indexes.iter().filter(|i| i.unique).collect();
        for batch in rows.chunks(BATCH) {
            let puts = batch
                .iter()
                .map(|row| self.insert_item(table, &unique, item_of(table, row)));
            for put in futures_util::future::join_all(puts).await {
                put?;
            }
        }
        Ok(())
    }

    async fn insert_item(
        &self,
        table: &TableSnapshot,
        unique: &[&IndexDef],
        item: Item,
    ) -> Result<()> {
        let key = &table.primary_key[0].column;
        let names = HashMap::from([("#k".to_string(), key.clone())]);
        let refused = if unique.is_empty() {
            let put = self
                .client
                .put_item()
                .table_name(self.name(&table.name))
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#k)")
                .set_expression_attribute_names(Some(names))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    "an item with this key exists"
                }
                Err(e) => return Err(self.error(e)),
            }
        } else {
            let put = |table_name: String,
                       entry: Item,
                       condition: &str,
                       names: HashMap<String, String>| {
                Put::builder()
                    .table_name(table_name)
                    .set_item(Some(entry))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|e| self.error(e))
            };
            let mut writes = Vec::new();
            for index in unique {
                let column = &index.columns[0].column;
                let Some(value) = item.get(column) else {
                    continue;
                };
                let mut entry = key_of(table, &item);
                entry.insert(column.clone(), value.clone());
                writes.push(put(
                    self.index_name(&table.name, &index.name),
                    entry,
                    "attribute_not_exists(#c)",
                    HashMap::from([("#c".to_string(), column.clone())]),
                )?);
            }
            writes.push(put(
                self.name(&table.name),
                item.clone(),
                "attribute_not_exists(#k)",
                names,
            )?);
            if self.transact(writes).await? {
                return Ok(());
            }
            "its key or one of its unique values exists"
        };
        // Done by an earlier, interrupted run if the item there is this row.
        let existing = self
            .client
            .get_item()
            .table_name(self.name(&table.name))
            .set_key(Some(key_of(table, &item)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        if existing.item() == Some(&item) {
            return Ok(());
        }
        Err(self.error_message(format!(
            "cannot insert into {} the row with {}: {refused}",
            table.name,
            items::describe_key(table, &item)
        )))
    }

    /// Sets `set` on every item `filter` matches, each with one conditional `UpdateItem`; a
    /// value that is null removes the attribute (as Toasty stores a null). An item whose
    /// unique-indexed value changes is written in one `TransactWriteItems` with its index
    /// entries (the new one put where the value is free, the old one deleted), as Toasty does.
    pub(super) async fn update_rows(
        &self,
        table: &TableSnapshot,
        set: &[(String, Expr)],
        filter: &Filter,
    ) -> Result<()> {
        let fail = |m: String| self.unsupported(format!("update of {}: {m}", table.name));
        let unique: Vec<&IndexDef> = table
            .indexes
            .iter()
            .filter(|i| i.unique && set.iter().any(|(c, _)| *c == i.columns[0].column))
            .collect();
        let unique = &unique;
        self.for_each_page(&table.name, "update", |page| async move {
            let mut updates = Vec::new();
            let mut moves = Vec::new();
            for item in &page {
                if !matches(filter, item).map_err(fail)? {
                    continue;
                }
                let new: Vec<Value> = set
                    .iter()
                    .map(|(_, expr)| eval(expr, item))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(fail)?;
                let changed: Vec<(&str, Value)> = set
                    .iter()
                    .zip(new)
                    .map(|((column, _), value)| (column.as_str(), value))
                    .filter(|(column, value)| {
                        from_attribute(item.get(*column)).map_or(true, |old| old != *value)
                    })
                    .collect();
                // An item already as the update leaves it (done by an interrupted run) is not
                // written again.
                if changed.is_empty() {
                    continue;
                }
                let update = ItemUpdate::of(table, &changed);
                let moved: Vec<&IndexDef> = unique
                    .iter()
                    .copied()
                    .filter(|i| changed.iter().any(|(c, _)| *c == i.columns[0].column))
                    .collect();
                if moved.is_empty() {
                    updates.push(
                        self.client
                            .update_item()
                            .table_name(self.name(&table.name))
                            .set_key(Some(key_of(table, item)))
                            .update_expression(&update.expression)
                            .condition_expression(&update.condition)
                            .set_expression_attribute_names(Some(update.names))
                            .set_expression_attribute_values(update.values)
                            .send(),
                    );
                } else {
                    moves.push(self.move_unique(table, item, update, changed, moved));
                }
            }
            self.send_in_batches(updates, |e| {
                e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception())
            })
            .await?;
            let mut moves = moves.into_iter().peekable();
            while moves.peek().is_some() {
                let batch: Vec<_> = moves.by_ref().take(BATCH).collect();
                for moved in futures_util::future::join_all(batch).await {
                    moved?;
                }
            }
            Ok(())
        })
        .await
    }

    /// One item's update and its unique-index entries' move, in one transaction: the item
    /// updated where it exists, each new value's entry put where the value is free, each old
    /// value's entry deleted.
    async fn move_unique(
        &self,
        table: &TableSnapshot,
        item: &Item,
        update: ItemUpdate,
        changed: Vec<(&str, Value)>,
        moved: Vec<&IndexDef>,
    ) -> Result<()> {
        let built = |e: aws_sdk_dynamodb::error::BuildError| self.error(e);
        let mut writes = vec![
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(self.name(&table.name))
                        .set_key(Some(key_of(table, item)))
                        .update_expression(&update.expression)
                        .condition_expression(&update.condition)
                        .set_expression_attribute_names(Some(update.names))
                        .set_expression_attribute_values(update.values)
                        .build()
                        .map_err(built)?,
                )
                .build(),
        ];
        for index in &moved {
            let column = &index.columns[0].column;
            let entries = self.index_name(&table.name, &index.name);
            if let Some(old) = item.get(column) {
                writes.push(
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&entries)
                                .key(column, old.clone())
                                .build()
                                .map_err(built)?,
                        )
                        .build(),
                );
            }
            let new = changed.iter().find(|(c, _)| c == column).map(|(_, v)| v);
            if let Some(new) = new.filter(|v| **v != Value::Null) {
                let mut entry = key_of(table, item);
                entry.insert(column.clone(), to_attribute(new));
                writes.push(
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&entries)
                                .set_item(Some(entry))
                                .condition_expression("attribute_not_exists(#c)")
                                .expression_attribute_names("#c", column)
                                .build()
                                .map_err(built)?,
                        )
                        .build(),
                );
            }
        }
        if self.transact(writes).await? {
            return Ok(());
        }
        let values: Vec<String> = changed
            .iter()
            .filter(|(c, _)| moved.iter().any(|i| i.columns[0].column == *c))
            .map(|(c, v)| format!("{c} = {v}"))
            .collect();
        Err(self.error_message(format!(
            "cannot update in {} the item with {}: another item has {} (a unique index)",
            table.name,
            items::describe_key(table, item),
            values.join(", ")
        )))
    }

    /// Sends `writes` as one transaction: `false` where a condition refused it, and nothing
    /// was written.
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<bool> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.error(e)),
        }
    }

    /// Deletes every item `filter` matches, and its unique-index entries.
    pub(super) async fn delete_rows(&self, table: &TableSnapshot, filter: &Filter) -> Result<()> {
        let fail = |m: String| self.unsupported(format!("delete from {}: {m}", table.name));
        let unique: Vec<&IndexDef> = table.indexes.iter().filter(|i| i.unique).collect();
        let unique = &unique;
        self.for_each_page(&table.name, "delete", |page| async move {
            let doomed: Vec<&Item> = page
                .iter()
                .filter_map(|item| matches(filter, item).map(|m| m.then_some(item)).transpose())
                .collect::<std::result::Result<_, _>>()
                .map_err(fail)?;
            // The unique-index entries first: a run killed in between finds the items again.
            let mut entries = Vec::new();
            for item in &doomed {
                for index in unique {
                    let column = &index.columns[0].column;
                    if let Some(value) = item.get(column) {
                        entries.push(
                            self.client
                                .delete_item()
                                .table_name(self.index_name(&table.name, &index.name))
                                .key(column, value.clone())
                                .send(),
                        );
                    }
                }
            }
            self.send_in_batches(entries, |_| false).await?;
            let items = doomed.iter().map(|item| {
                self.client
                    .delete_item()
                    .table_name(self.name(&table.name))
                    .set_key(Some(key_of(table, item)))
                    .send()
            });
            self.send_in_batches(items.collect(), |_| false).await
        })
        .await
    }

    /// Sends writes `BATCH` at a time; an error `harmless` says is expected (a failed condition:
    /// the item was done already) is not a failure.
    async fn send_in_batches<T, E>(
        &self,
        writes: Vec<impl std::future::Future<Output = std::result::Result<T, E>>>,
        harmless: impl Fn(&E) -> bool,
    ) -> Result<()>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut writes = writes.into_iter().peekable();
        while writes.peek().is_some() {
            let batch: Vec<_> = writes.by_ref().take(BATCH).collect();
            for sent in futures_util::future::join_all(batch).await {
                match sent {
                    Ok(_) => {}
                    Err(e) if harmless(&e) => {}
                    Err(e) => return Err(self.error(e)),
                }
            }
        }
        Ok(())
    }

    /// How many items `filter` matches, by a scan.
    pub(super) async fn count_items(&self, table: &TableSnapshot, filter: &Filter) -> Result<u64> {
        let count = std::sync::atomic::AtomicU64::new(0);
        let fail = |m: String| self.unsupported(format!("count of {}: {m}", table.name));
        let count_ref = &count;
        self.for_each_page(&table.name, "count", |page| async move {
            for item in &page {
                if matches(filter, item).map_err(fail)? {
                    count_ref.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok(())
        })
        .await?;
        Ok(count.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toasty_migrate::data::{coalesce, col, concat, eq, is_null, lit, lower, ne};

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn filters_and_expressions_keep_sqls_meaning_of_null() {
        let ann = item(&[
            ("id", AttributeValue::N("1".into())),
            ("email", AttributeValue::S("Ann@X".into())),
        ]);
        let bob = item(&[("id", AttributeValue::N("2".into()))]);
        let text = |s: &str| Value::Text(s.into());
        assert!(matches(&eq("id", Value::Integer(1)), &ann).unwrap());
        assert!(matches(&ne("email", text("x")), &ann).unwrap());
        assert!(
            !matches(&ne("email", text("x")), &bob).unwrap(),
            "null is not unequal"
        );
        assert!(matches(&is_null("email"), &bob).unwrap());
        assert_eq!(eval(&lower(col("email")), &ann).unwrap(), text("ann@x"));
        assert_eq!(eval(&lower(col("email")), &bob).unwrap(), Value::Null);
        assert_eq!(
            eval(&concat(vec![col("email"), lit(text("!"))]), &bob).unwrap(),
            Value::Null
        );
        assert_eq!(
            eval(&coalesce(vec![col("email"), lit(text("none"))]), &bob).unwrap(),
            text("none")
        );
    }
}
