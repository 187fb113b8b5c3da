//! Unique indexes: a table per index keyed by the column, filled from the items that have it;
//! two items with one value are refused and leave nothing behind.

use super::*;

impl DynamoBackend {
    /// A unique index is a table keyed by the column, filled from the items that have it; two
    /// items with one value are refused.
    pub(super) async fn create_unique_index(
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
    pub(super) async fn put_index_entry(
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
}
