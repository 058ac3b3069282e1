// Command receive-webhook is the Lambda of POST /api/v1/webhooks/{workflowId}.
package main

import "github.com/workflowsapi/workflows/internal/lambdaapp"

func main() { lambdaapp.StartRoute("receive-webhook") }
