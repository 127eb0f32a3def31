#!/bin/sh
# Stands in for AWS Batch in the seed cases (bound to arn:aws:states:::batch:submitJob.sync):
# reads the SubmitJob request on stdin and prints a Batch-style job description that
# succeeded, named after the request's JobName, with the request itself under "Request" so
# a case can check exactly what the state machine submitted.
in=$(cat)
name=$(printf '%s' "$in" | tr -d '\n' | awk '{
  if (match($0, /"JobName" *: *"[^"]*"/)) {
    s = substr($0, RSTART, RLENGTH); sub(/^"JobName" *: *"/, "", s); sub(/"$/, "", s); print s
  } }')
printf '{"JobId":"job-%s","JobName":"%s","Status":"SUCCEEDED","Container":{"ExitCode":0,"Environment":[{"Name":"JOB_NAME","Value":"%s"}]},"Request":%s}\n' \
  "$name" "$name" "$name" "$in"
