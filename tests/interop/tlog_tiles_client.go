// An independent tlog-tiles client: Go's golang.org/x/mod/sumdb/tlog and sumdb/note (the Go
// checksum database's own code, from Debian's golang-golang-x-mod-dev) fetch the registry's
// checkpoint, tiles and entry bundles over HTTP and verify them.
//
//	go run tlog_tiles_client.go PREFIX VKEY TOKEN OLDSIZE OLDROOT INDEX...
//
// PREFIX is the log's URL prefix (http://127.0.0.1:PORT/ledger), VKEY its verifier key, TOKEN
// a bearer token for entry bundles, OLDSIZE/OLDROOT an earlier tree to prove consistency with
// (0 and "" for none), INDEX the leaves whose inclusion to prove from their entry bundles.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var prefix, token string

func get(path string, auth bool) ([]byte, error) {
	req, err := http.NewRequest("GET", prefix+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return body, nil
}

// tiles serves tlog's tile requests from the C2SP layout: tlog names tiles tile/8/L/N (with
// the height), tlog-tiles tile/L/N (the height is always 8).
type tiles struct{}

func (tiles) Height() int { return 8 }

func (tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		path := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
		data, err := get(path, false)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (tiles) SaveTiles([]tlog.Tile, [][]byte) {}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func bundle(index, size int64) []byte {
	n := index / 256
	path := fmt.Sprintf("tile/entries/%s", strings.TrimPrefix(tlog.Tile{H: 8, L: 0, N: n, W: 256}.Path(), "tile/8/0/"))
	if (n+1)*256 > size {
		w := size - n*256
		path = fmt.Sprintf("tile/entries/%s", strings.TrimPrefix(tlog.Tile{H: 8, L: 0, N: n, W: int(w)}.Path(), "tile/8/0/"))
	}
	data, err := get(path, true)
	if err != nil {
		fail("%v", err)
	}
	for i := int64(0); len(data) >= 2; i++ {
		length := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+length {
			fail("truncated entry bundle %s", path)
		}
		if i == index%256 {
			return data[2 : 2+length]
		}
		data = data[2+length:]
	}
	fail("entry %d is not in bundle %s", index, path)
	return nil
}

func main() {
	prefix, token = os.Args[1], os.Args[3]
	verifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("vkey: %v", err)
	}
	raw, err := get("checkpoint", false)
	if err != nil {
		fail("%v", err)
	}
	msg, err := note.Open(raw, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint: %v", err)
	}
	lines := strings.Split(msg.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root: %v", err)
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	tree := tlog.Tree{N: size, Hash: root}
	reader := tlog.TileHashReader(tree, tiles{})
	got, err := tlog.TreeHash(size, reader)
	if err != nil || got != root {
		fail("tree hash from tiles: %v (%v != %v)", err, got, root)
	}
	oldSize, _ := strconv.ParseInt(os.Args[4], 10, 64)
	if oldSize > 0 {
		oldRoot, err := tlog.ParseHash(os.Args[5])
		if err != nil {
			fail("old root: %v", err)
		}
		proof, err := tlog.ProveTree(size, oldSize, reader)
		if err != nil {
			fail("consistency proof from tiles: %v", err)
		}
		if err := tlog.CheckTree(proof, size, root, oldSize, oldRoot); err != nil {
			fail("consistency with the tree of %d: %v", oldSize, err)
		}
	}
	for _, arg := range os.Args[6:] {
		index, _ := strconv.ParseInt(arg, 10, 64)
		leaf := bundle(index, size)
		proof, err := tlog.ProveRecord(size, index, reader)
		if err != nil {
			fail("inclusion proof of %d from tiles: %v", index, err)
		}
		if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(leaf)); err != nil {
			fail("inclusion of %d: %v", index, err)
		}
	}
	fmt.Printf("OK: %s size %d root %s: tiles, %d entries and consistency verified by x/mod/sumdb/tlog\n",
		lines[0], size, lines[2], len(os.Args)-6)
}
