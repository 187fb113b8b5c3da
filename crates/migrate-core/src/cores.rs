//! Independent work spread over the cores: the files of a directory, the statements of one
//! large migration file, read or written.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` of each of `items`, in order: the items taken `least` at a time by a thread per core,
/// each thread taking the next batch when done with its last (the statements of a first
/// migration are thousands of tables, then many smaller indexes). As few as `least` run on
/// this thread: a thread costs more than a little work.
pub(crate) fn on_every_core<I: Sync, T: Send>(
    items: &[I],
    least: usize,
    f: impl Fn(&I) -> T + Sync,
) -> Vec<T> {
    if items.len() <= least {
        return items.iter().map(f).collect();
    }
    let batches: Vec<&[I]> = items.chunks(least).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(batches.len());
    let next = AtomicUsize::new(0);
    let (f, batches, next) = (&f, &batches, &next);
    let mut done: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else {
                            return done;
                        };
                        done.push((i, batch.iter().map(f).collect::<Vec<T>>()));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("workers do not panic"))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().flat_map(|(_, batch)| batch).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_order_of_the_items_whatever_thread_took_them() {
        let items: Vec<u32> = (0..10_000).collect();
        assert_eq!(
            on_every_core(&items, 7, |i| i * 2),
            items.iter().map(|i| i * 2).collect::<Vec<_>>()
        );
        assert_eq!(on_every_core(&items[..3], 7, |i| i + 1), [1, 2, 3]);
    }
}
