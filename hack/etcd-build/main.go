// Command etcd is a thin wrapper so etcd can be built with `go build` from a
// module without replace directives (etcd's own go.mod files carry some).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
