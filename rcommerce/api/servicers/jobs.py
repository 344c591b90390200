"""Servicer of ``JobService`` (webhooks.proto)."""

from __future__ import annotations

from rcommerce.api.call import Call
from rcommerce.errors import invalid
from rcommerce.events.convert import JOB_STATES
from rcommerce.gen.v1 import webhooks_pb2, webhooks_pb2_grpc
from rcommerce.jobs.admin import JobAdmin
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, page_size

_STATE_NAMES = {value: name for name, value in JOB_STATES.items()}


class JobServicer(webhooks_pb2_grpc.JobServiceServicer):
    def __init__(self, jobs: JobAdmin, page_tokens: PageTokens) -> None:
        self._jobs = jobs
        self._tokens = page_tokens

    async def ListJobs(self, request: webhooks_pb2.ListJobsRequest, call: Call) -> webhooks_pb2.ListJobsResponse:
        state = ""
        if request.state:
            if request.state not in _STATE_NAMES:
                raise invalid("state", f"unknown job state {request.state}")
            state = _STATE_NAMES[request.state]
        size = page_size(request.page_size)
        fingerprint = f"jobs:{state}:{request.kind}"
        offset = self._tokens.decode(request.page_token, fingerprint)
        jobs, more = await self._jobs.list_jobs(offset, size, state, request.kind)
        token = self._tokens.encode(offset + size, fingerprint) if more else ""
        return webhooks_pb2.ListJobsResponse(jobs=jobs, next_page_token=token)

    async def RetryJob(self, request: webhooks_pb2.RetryJobRequest, call: Call) -> webhooks_pb2.Job:
        return await self._jobs.retry(parse_name(request.name, "jobs", "job"))

    async def CancelJob(self, request: webhooks_pb2.CancelJobRequest, call: Call) -> webhooks_pb2.Job:
        return await self._jobs.cancel(parse_name(request.name, "jobs", "job"))
