// Package spool is the durable first-in, first-out queue between Vigil's push
// sources (EventBridge API destinations, SNS) and the detection pipeline.
//
// A source calls [Spool.Append] and answers its sender 2xx only once Append
// returned nil: by then the records are written and fsynced, so a kill -9 at
// any moment loses no acknowledged payload. Concurrent Append calls share one
// fsync (group commit): a writer goroutine takes every batch queued since
// its last write and writes them with one write call; a syncer goroutine
// takes every group written since its last sync, syncs once and wakes all
// their callers. The writer does not wait for the sync, so records keep
// flowing to Next while a slow fsync runs. Nothing waits on a timer, so a
// lone Append costs one fsync and many concurrent ones cost one fsync per
// round.
//
// The pipeline reads with [Spool.Next] in append order and calls [Spool.Ack]
// once it is done with a record. Next returns records as soon as they are
// written, while their sync runs: the pipeline's work overlaps the fsync,
// which is harmless because a record lost by a machine crash before its
// sync was never acknowledged to its sender (and one processed twice is
// absorbed by alert dedup). The acked position is persisted every
// Options.CheckpointEvery and at Close; after a crash the records after the
// persisted checkpoint are delivered again, so delivery is at least once.
//
// # Files
//
// A spool directory (created 0700) holds:
//
//	LOCK                       flock(2)ed while a Spool is open
//	checkpoint                 the last persisted acked sequence number
//	00000000000000000001.seg   segment files, named by their first sequence number
//
// Every record gets a sequence number, 1 for the first record of a new spool
// and one more for each record after it; numbers are never reused. Appends
// go to the last segment; a batch that would take it beyond
// Options.SegmentBytes goes to a new one. A batch is never split across
// segments. Segments whose records are all at or before the persisted
// checkpoint are deleted.
//
// All integers are little endian. A segment starts with a 32-byte header:
//
//	0   8  magic "VGLSPOOL"
//	8   2  format version (1)
//	10  2  zero
//	12  4  largest body the segment may hold (Options.MaxRecord when created)
//	16  8  sequence number of its first record (equal to the file name)
//	24  4  zero
//	28  4  CRC-32C (Castagnoli) of bytes 0-27
//
// and is followed by frames, one per record, each a 36-byte header then the
// source, name and body bytes:
//
//	0   4  CRC-32C of the frame from byte 36 to its end, then of bytes 4-35
//	4   4  body length (at most the segment's largest body)
//	8   4  name length (at most 64 KiB)
//	12  1  source length
//	13  1  flags: bit 0 set on the last record of an Append batch
//	14  2  zero
//	16  8  sequence number
//	24  8  Received, Unix seconds
//	32  4  Received, nanoseconds
//
// The CRC covers the payload first so that writers compute that part in
// parallel and the writer goroutine adds only the header once it has
// assigned sequence numbers.
//
// The checkpoint file is 20 bytes: magic "VGLCHKPT", the acked sequence
// number, and the CRC-32C of those 16 bytes. It is replaced atomically
// (write a temporary file, fsync, rename, fsync the directory).
//
// # Recovery
//
// Open reads every segment still holding unacked records, checking each
// frame's lengths, CRC and sequence number. Files are treated as hostile: a
// length is checked against the bytes left in the file and the segment's
// largest body before anything is allocated.
//
//   - The last segment may end in a torn write: a short or damaged frame, or
//     the records of a batch whose last record never made it to disk. Open
//     cuts the file back to the end of the last complete batch and logs a
//     warning with the file, the offset and the reason. Records of an
//     incomplete batch are dropped even when intact, because the Append that
//     wrote them never returned nil, which keeps a batch all or nothing.
//   - Every other segment was fsynced before the next one was created, so
//     damage there is corruption, not a torn write. Open fails with a
//     [*CorruptError] naming the file and offset, unless
//     Options.SkipCorrupt is set: then it logs an error, delivers the
//     records before the damage, skips to the next segment and counts the
//     records lost in [Stats].Lost. A missing run of sequence numbers between
//     two segments is treated the same way.
//
// A damaged checkpoint file is an error too: delete it to have every record
// still on disk delivered again.
package spool
