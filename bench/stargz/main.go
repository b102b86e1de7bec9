// stargz-daemon serves the stargz snapshotter (Debian's
// golang-github-containerd-stargz-snapshotter-dev ships its service package
// but not its daemon) as a containerd proxy plugin, for bench/containerd_bench.sh
// to compare lode's snapshotter with. Registries are reached over plain HTTP.
//
// usage: stargz-daemon ROOT SOCKET
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/contrib/snapshotservice"
	"github.com/containerd/containerd/reference"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/containerd/stargz-snapshotter/service"
	"google.golang.org/grpc"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: stargz-daemon ROOT SOCKET")
		os.Exit(2)
	}
	root, socket := os.Args[1], os.Args[2]
	plainHTTP := func(ref reference.Spec) ([]docker.RegistryHost, error) {
		// stargz reads ranges through the client's transport: it must be set.
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		return docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts),
			docker.WithClient(client))(ref.Hostname())
	}
	snapshotter, err := service.NewStargzSnapshotterService(context.Background(), root, &service.Config{},
		service.WithCustomRegistryHosts(plainHTTP))
	if err != nil {
		fmt.Fprintln(os.Stderr, "stargz-daemon:", err)
		os.Exit(1)
	}
	os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stargz-daemon:", err)
		os.Exit(1)
	}
	server := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(server, snapshotservice.FromSnapshotter(snapshotter))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Stop()
		snapshotter.Close()
	}()
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, "stargz-daemon:", err)
		os.Exit(1)
	}
}
