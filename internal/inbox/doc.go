// Package inbox watches a directory and hands each file dropped into it to
// the pipeline once, even across restarts: the embedded default source of
// `vigil serve`.
//
// # What is taken
//
// Every poll walks the directory recursively. A regular file is taken once
// its size and modification time have stayed the same for Options.Settle,
// so that a file still being copied is not read half-written; a file whose
// modification time is already older than that when it is first seen (one
// renamed into place, or there before Vigil started) is taken at once.
// Skipped: hidden files and directories (".name", as rsync and many
// uploaders write before renaming), names ending in "~", ".tmp", ".part",
// ".partial" or ".crdownload", Markdown files (as source.Files skips them),
// the ledger itself if it lies inside the directory, and anything that is
// not a regular file.
//
// Symbolic links are refused: they are not followed, and a file is opened
// through os.OpenInRoot, so that even a link swapped in after the walk
// cannot lead outside the directory. Whoever can write to the inbox can
// then only make Vigil read what they could write, not what Vigil can read.
//
// # The ledger
//
// A bbolt file records, per path relative to the directory, the file's size
// and modification time when it was taken, its state (in flight, done or
// failed), its attempts and its last error. Every change is one synced
// transaction. The fingerprint is size and modification time, not a hash
// of the content (which would mean reading every file an extra time) nor
// the inode (which changes when the inbox is moved or restored from a
// backup, and would have every file processed again).
//
//   - A file is marked in flight, with its attempt counted, before its job
//     is sent. Job.Done(nil) marks it done; Job.Done(err) marks it failed,
//     and it is taken again after a backoff that doubles from
//     Options.RetryBackoff, until Options.MaxAttempts attempts have failed:
//     then it is left failed and logged once.
//   - A file found in flight at start (Vigil stopped before the pipeline
//     finished it) is taken again: delivery is at least once, and the
//     pipeline's dedup absorbs what was already alerted. That too counts
//     as an attempt, so a file that crashes Vigil is given up eventually.
//   - A done file whose size or modification time changes is taken again,
//     with a log line, and its attempts start over; so does a failed file
//     that changes (its fix was dropped in).
//   - The entry of a file that is no longer there is removed once it has
//     been gone for Options.Forget, so that the ledger does not grow
//     forever. A directory that cannot be read does not count as gone.
//
// Each poll lists the whole directory: move or delete processed files to
// keep polls cheap on a long-lived inbox.
//
// Two watchers cannot share a ledger: the second Open fails (bbolt's file
// lock). Two watchers with different ledgers on one directory would both
// take every file.
package inbox
