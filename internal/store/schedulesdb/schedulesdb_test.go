package schedulesdb_test

import (
	"context"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
)

func TestMain(m *testing.M) { os.Exit(dynamotest.Run(m)) }

func TestMarkersArePutListedAcrossShardsAndDeleted(t *testing.T) {
	table := dynamotest.MustTable(t)
	s := schedulesdb.New(table.Client, table.Name)
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	want := map[string]string{}
	for i := range 40 {
		id := "wf_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		want[id] = "acct_" + string(rune('a'+i%3))
		table.Calls.Reset()
		if err := s.Put(ctx, schedules.Marker{AccountID: want[id], WorkflowID: id, MarkedAt: at}); err != nil {
			t.Fatal(err)
		}
		if calls := table.Calls.Snapshot(); calls["PutItem"] != 1 || table.Calls.Total() != 1 {
			t.Fatalf("Put cost %v", calls)
		}
	}
	table.Calls.Reset()
	got, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if calls := table.Calls.Snapshot(); calls["Query"] != store.ScheduleMarkerShards || len(calls) != 1 {
		t.Errorf("List cost %v, want one Query per shard", calls)
	}
	if len(got) != len(want) {
		t.Fatalf("%d markers, want %d", len(got), len(want))
	}
	for _, m := range got {
		if want[m.WorkflowID] != m.AccountID || !m.MarkedAt.Equal(at) {
			t.Errorf("marker %+v", m)
		}
	}
	if err := s.Delete(ctx, "wf_aa"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "wf_aa"); err != nil {
		t.Fatalf("deleting an absent marker: %v", err)
	}
	if got, _ := s.List(ctx); len(got) != len(want)-1 {
		t.Errorf("%d markers after a delete", len(got))
	}
}

func TestScanScheduleWorkflowsFindsScheduleHeadsOnly(t *testing.T) {
	table := dynamotest.MustTable(t)
	ctx := context.Background()
	put := func(pk, sk, workflowID, trigger string) {
		t.Helper()
		_, err := table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk},
			"workflowId": &types.AttributeValueMemberS{Value: workflowID}, "triggerType": &types.AttributeValueMemberS{Value: trigger},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(store.AccountPK("acct_a"), store.WorkflowSK("wf_1"), "wf_1", "schedule")
	put(store.AccountPK("acct_b"), store.WorkflowSK("wf_2"), "wf_2", "schedule")
	put(store.AccountPK("acct_a"), store.WorkflowSK("wf_3"), "wf_3", "manual")
	put(store.AccountPK("acct_a"), store.WorkflowVersionSK("wf_1", 1), "wf_1", "schedule") // a version, not a head
	found, err := schedulesdb.New(table.Client, table.Name).ScanScheduleWorkflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].WorkflowID < found[j].WorkflowID })
	if len(found) != 2 || found[0] != (schedules.Marker{AccountID: "acct_a", WorkflowID: "wf_1"}) || found[1] != (schedules.Marker{AccountID: "acct_b", WorkflowID: "wf_2"}) {
		t.Fatalf("found %+v", found)
	}
}
