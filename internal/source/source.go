// Package source finds and opens the payloads Vigil reads: local files and
// directories, standard input, and (in later stages) S3 objects and queue
// messages.
package source

import "io"

// Input is one payload to read: a file, stdin, an object. Open is called
// once, when the payload's turn comes, so that listing many inputs does not
// open them all.
type Input struct {
	// Name identifies the payload in origins and messages: a path,
	// "(stdin)", s3://bucket/key.
	Name string
	Open func() (io.ReadCloser, error)
}
