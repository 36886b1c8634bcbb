"""The composition root: everything the product runs is wired here, from one environment
mapping.

``build_registry(env)`` makes the registry (the event-sourced application and its credential
store); ``Services(env)`` holds what is built on it — the ledger, the ledger follower between
the two, the market-data read model, the order gateway that group-commits concurrent orders,
the public registry and the witnesses — each built on first use, once. ``registry serve``
(through ``api.state.AppState``, which adds the console's sessions), every CLI command and the
tests use it; nothing else constructs these.

Nothing runs at import time and nothing mutates ``os.environ``; tests pass their own dict.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ledger.log import Ledger
from registry.app import RegistryBase
from registry.clock import now
from registry.compliance import ComplianceService
from registry.config import Settings
from registry.credentials import CredentialStore
from registry.datadir import private_dir, private_file
from registry.exchange import ExchangeService
from registry.exchange_modes import ExchangeModes
from registry.exchange_writes import ExchangeWrites
from registry.holdings import HoldingService
from registry.ledger_follower import LedgerFollower, LedgerSettings, open_ledger
from registry.lifecycle import LifecycleService
from registry.market_data import MarketData
from registry.order_gateway import OrderGateway
from registry.order_process import OrderProcess, Results
from registry.order_process import wanted as order_process_wanted
from registry.proposals import ProposalService
from registry.public import PublicRegistry
from registry.queries import QueryService
from registry.receipts import RecentLeafIndexes
from registry.representatives import RepresentativeService
from registry.requests import EnterpriseRequests
from registry.retrofits import RetrofitService
from registry.rights import RightsService
from registry.sampling import SamplingService
from registry.schema_lock import schema_lock
from registry.sessions import SessionService
from registry.users import UserService
from registry.witnesses import WitnessClient


class Registry(RegistryBase):
    """The registry: the core (`registry.app.RegistryBase`: the event store, loading, saving,
    the rule book, the commands on enterprises, agencies and rules) and one service per area,
    each given the core and the services it calls, built here in that order."""

    def __init__(self, env: Mapping[str, str] | None = None, *,
                 credentials: CredentialStore | None = None) -> None:
        super().__init__(env=env)
        # passwords and second factors (`registry.credentials`): in memory unless given
        self.users = UserService(self, credentials=credentials if credentials is not None
                                 else CredentialStore(None))
        self.rights = RightsService(self)
        self.queries = QueryService(self)
        self.compliance = ComplianceService(self)
        #: the exchange's writer and lock, through which every area writes to the exchange
        self.exchange_writes = ExchangeWrites(self)
        self.lifecycle = LifecycleService(self, exchange_writes=self.exchange_writes)
        self.retrofits = RetrofitService(self, rights=self.rights,
                                         exchange_writes=self.exchange_writes,
                                         lifecycle=self.lifecycle)
        self.sampling = SamplingService(self, exchange_writes=self.exchange_writes,
                                        lifecycle=self.lifecycle, retrofits=self.retrofits)
        self.holdings = HoldingService(self, rights=self.rights,
                                       exchange_writes=self.exchange_writes,
                                       lifecycle=self.lifecycle)
        self.sessions = SessionService(self, exchange_writes=self.exchange_writes,
                                       lifecycle=self.lifecycle)
        self.exchange = ExchangeService(self, exchange_writes=self.exchange_writes,
                                        rights=self.rights, sessions=self.sessions,
                                        lifecycle=self.lifecycle)
        self.representatives = RepresentativeService(self, users=self.users)
        self.exchange_modes = ExchangeModes(self, exchange_writes=self.exchange_writes,
                                            exchange=self.exchange, rights=self.rights,
                                            representatives=self.representatives)
        self.proposals = ProposalService(self, users=self.users, acts={
            "confirm_retrofit": self.retrofits.confirm_retrofit,
            "issue_surplus": self.retrofits.issue_surplus,
            "deposit": self.exchange.deposit,
            "withdraw": self.exchange.withdraw,
            "freeze": self.holdings.freeze,
            "unfreeze": self.holdings.unfreeze,
            "revoke_retrofit": self.retrofits.revoke_retrofit,
            "set_obligation": self.set_obligation,
            "restrict_enterprise": self.lifecycle.restrict_enterprise,
            "restore_enterprise": self.restore_enterprise,
            "restrict_agency": self.restrict_agency,
            "restore_agency": self.restore_agency,
            "open_market": self.exchange.open_market,
            "set_market_parameters": self.exchange.set_market_parameters,
            "adopt_rules": self.adopt_rules,
            "grant_role": self.users.grant_role,
            "record_sampling_outcome": self.sampling.record_sampling_outcome,
        })
        self.requests = EnterpriseRequests(self, proposals=self.proposals,
                                           representatives=self.representatives,
                                           exchange_modes=self.exchange_modes)

    def close(self) -> None:
        self.users.credentials.close()
        self.exchange_writes.close()
        super().close()


def build_registry(env: Mapping[str, str]) -> Registry:
    """The registry of ``env``; the credential store (passwords, second factors) lives in the
    data folder beside the SQLite store, or in memory for the memory store."""
    settings = Settings.from_env(env)
    if settings.store == "sqlite":
        private_dir(settings.data_dir)  # 0700; the store's files 0600 (`registry.datadir`)
        db = settings.eventsourcing_env["SQLITE_DBNAME"]
        if os.path.dirname(db):
            private_dir(os.path.dirname(db))
        if not settings.in_memory:
            private_file(db)
    elif settings.store != "memory":
        private_dir(settings.data_dir)
    # constructing the application creates its tables: one process at a time (PostgreSQL)
    credentials = CredentialStore(None if settings.store == "memory" else settings.data_dir)
    with schema_lock(settings.eventsourcing_env):
        return Registry(env=settings.eventsourcing_env, credentials=credentials)


def open_order_writer(env: Mapping[str, str]) -> Registry:
    """The registry of ``env`` for another process that writes the order gateway's batches
    (`registry.order_process`): the store and every service, the credential store in memory
    (it signs no one in)."""
    settings = Settings.from_env(env)
    with schema_lock(settings.eventsourcing_env):  # as `build_registry`: the tables exist
        return Registry(env=settings.eventsourcing_env, credentials=CredentialStore(None))


def open_store_reader(env: Mapping[str, str]) -> RegistryBase:
    """The event store of ``env`` alone, with the registry's mapper, to read its log in
    another process (`registry.leaf_process`): no services, no credential store."""
    settings = Settings.from_env(env)
    with schema_lock(settings.eventsourcing_env):  # as `build_registry`: the tables exist
        return RegistryBase(env=settings.eventsourcing_env)


class Services:
    """What one process runs over one data folder, each part built on first use and once:
    a command line that only reads opens the registry alone, ``registry serve`` all of it.
    ``close`` closes what was opened, the read models before the store."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._registry: Registry | None = None
        self._ledger: Ledger | None = None
        self._follower: LedgerFollower | None = None
        self._market_data: MarketData | None = None
        self._gateway: OrderGateway | None = None
        self._order_process: OrderProcess | None = None
        self._leaf_indexes: RecentLeafIndexes | None = None
        self._public: PublicRegistry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = build_registry(self.env)
        return self._registry

    @property
    def ledger_settings(self) -> LedgerSettings:
        return LedgerSettings.from_env(self.env)

    @property
    def ledger(self) -> Ledger:
        """The ledger of the data folder, opened (and its signing key created) on first use."""
        if self._ledger is None:
            self._ledger = open_ledger(self.ledger_settings)
        return self._ledger

    @property
    def follower(self) -> LedgerFollower:
        """The one follower of the registry and the ledger (it holds the leaf check the ledger
        runs before signing, and the leaf encoder)."""
        if self._follower is None:
            settings = self.ledger_settings
            self._follower = LedgerFollower(self.registry, self.ledger,
                                            checkpoint_every=settings.checkpoint_every,
                                            seal=settings.seal_key(),
                                            speedups=self.registry.speedups)
        return self._follower

    @property
    def market_data(self) -> MarketData:
        if self._market_data is None:
            self._market_data = MarketData(self.registry)
        return self._market_data

    @property
    def gateway(self) -> OrderGateway:
        """Concurrent orders, of every market, sharing one save (`registry.order_gateway`),
        written in a child process with ``REGISTRY_ORDER_PROCESS=1``
        (`registry.order_process`); each batch wakes the live market-data streams."""
        if self._gateway is None:
            registry, market_data, indexes = self.registry, self.market_data, self.leaf_indexes
            write: Callable[..., Results] = registry.exchange.submit_order_batches
            if order_process_wanted(self.env):  # off this process's interpreter lock
                self._order_process = OrderProcess(self.env, write)
                write = self._order_process.submit_order_batches
                registry.exchange.elsewhere = self._order_process  # the queue's decisions too

            def submit_batches(**batches: Any) -> Any:
                outcomes = write(**batches)
                market_data.notify()  # live streams pick the batch up now, not at their timeout
                indexes.count(o.position for os in outcomes.values() if isinstance(os, list)
                              for o in os)  # each batch's ledger index, once, for its callers
                return outcomes

            # a batch may hold a few bulk entries (up to 1,000 requests each), one save
            self._gateway = OrderGateway(submit_batches, clock=now, max_batch=4000)
        return self._gateway

    @property
    def order_process(self) -> OrderProcess | None:
        """The child that writes the gateway's batches, once the gateway is built with
        ``REGISTRY_ORDER_PROCESS=1`` (`registry.order_process`); None otherwise."""
        return self._order_process

    @property
    def leaf_indexes(self) -> RecentLeafIndexes:
        """The ledger indexes of recent log positions, each counted once: every request of an
        order batch answers with its batch's leaf (`registry.receipts.RecentLeafIndexes`)."""
        if self._leaf_indexes is None:
            self._leaf_indexes = RecentLeafIndexes(self.follower)
        return self._leaf_indexes

    @property
    def public(self) -> PublicRegistry:
        """What the registry publishes to anyone (the console's public pages)."""
        if self._public is None:
            self._public = PublicRegistry(self.registry)
        return self._public

    def witnesses(self) -> WitnessClient:
        """The witnesses checkpoints are sent to (``REGISTRY_WITNESSES``)."""
        return WitnessClient.from_env(self.env)

    def opened(self) -> bool:
        """Whether the registry (the event store) has been opened."""
        return self._registry is not None

    def close(self) -> None:
        if self._gateway is not None:
            self._gateway.close()  # what is queued is written before the store goes away
        if self._order_process is not None:
            self._order_process.close()
        if self._market_data is not None:
            self._market_data.close()  # ends open live streams before the store goes away
        if self._ledger is not None:
            self._ledger.close()
        if self._registry is not None:
            self._registry.close()
