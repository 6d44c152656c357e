// Command clusterd-subscriber stands in for the MindIE controller's ClusterD
// client on the local cluster: it registers a job id with ClusterD's gRPC
// config service and writes every global rank table ClusterD streams for it
// to a file, so tests can read what the real ClusterD would push to MindIE.
//
//	clusterd-subscriber --addr HOST:8899 --job-id ID --out FILE [--role ROLE]
//
// ClusterD serves Register and SubscribeRankTable from
// component/clusterd/pkg/application/config/grpc_service.go (mind-cluster);
// a job must Register before it may subscribe, and ClusterD only publishes a
// job's table to a registered subscriber. It is built by hack/mind-cluster.sh
// against the generated package clusterd/pkg/interface/grpc/config of the
// ClusterD source tree named by MIND_CLUSTER_SRC (not vendored here).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"clusterd/pkg/interface/grpc/config"
)

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ranktable-*")
	if err != nil {
		return err
	}
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Close()
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// subscribeOnce registers, subscribes and copies tables to out until the stream ends.
func subscribeOnce(addr, jobID, role, out string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// grpc.Dial, not NewClient: ClusterD v26.1.0 pins a grpc-go older than NewClient.
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := config.NewConfigClient(conn)
	status, err := client.Register(ctx, &config.ClientInfo{JobId: jobID, Role: role})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	fmt.Fprintf(os.Stderr, "registered job %s: %d %s\n", jobID, status.Code, status.Info)
	stream, err := client.SubscribeRankTable(ctx, &config.ClientInfo{JobId: jobID, Role: role})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		fmt.Fprintf(os.Stderr, "rank table for job %s (%d bytes)\n", msg.JobId, len(msg.RankTable))
		if err := writeAtomic(out, []byte(msg.RankTable)); err != nil {
			return err
		}
	}
}

func main() {
	addr := flag.String("addr", "", "ClusterD gRPC address, HOST:8899")
	jobID := flag.String("job-id", "", "the job id the servers carry as MINDX_TASK_ID")
	role := flag.String("role", "mindie-controller", "the role sent with Register")
	out := flag.String("out", "", "file to write each received rank table to")
	flag.Parse()
	if *addr == "" || *jobID == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: clusterd-subscriber --addr HOST:8899 --job-id ID --out FILE [--role ROLE]")
		os.Exit(2)
	}
	// ClusterD drops a subscription when it restarts or the stream breaks: register again, as MindIE does.
	for {
		err := subscribeOnce(*addr, *jobID, *role, *out)
		fmt.Fprintf(os.Stderr, "subscription ended: %v; retrying in 2s\n", err)
		time.Sleep(2 * time.Second)
	}
}
