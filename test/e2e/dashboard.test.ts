// Issue 14, web dashboard: `shoal daemon --dashboard-addr` on a real 3-node cluster (one manager, two
// workers, process runtime), looked at in Debian's chromium driven by playwright-core. The page lists
// nodes and services; a `docker service scale` on the real CLI shows on the page without a reload (the
// delay is measured and printed, not asserted); the page's scale, drain/activate and rollback buttons
// change the cluster (checked with the docker CLI); service logs follow; a phone-width (390 px) render
// has no horizontal scroll. Screenshots are saved as test artifacts (dist/test-artifacts/); with
// UPDATE_GOLDEN=1 the desktop one is also written to docs/dashboard.png.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { freePort, waitFor } from '../harness/daemon';

// page.evaluate callbacks run in the browser: its globals, as far as this file uses them
declare const window: { seenAt?: number };
declare const document: { querySelector(s: string): { textContent: string | null }; documentElement: { scrollWidth: number; clientWidth: number } };
declare const MutationObserver: new (cb: () => void) => { observe(target: unknown, o: object): void };

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(__dirname, '..', '..', '..');
const ARTIFACTS = path.join(ROOT, 'dist', 'test-artifacts');
// CI installs chromium (.ci/run) and must run this; elsewhere it is optional
const skip = !fs.existsSync(CHROMIUM) && process.env.CI !== 'true' ? `${CHROMIUM} is missing (apt-get install chromium)` : false;
const LONG = 30_000;

describe('web dashboard in a real browser on a 3-node cluster (process runtime, docker CLI)', { concurrency: false, skip }, () => {
  let c: TestCluster;
  let port: number;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  let m: ClusterNode;
  let published: number;

  const serviceField = (format: string) => m.dockerOk(['service', 'inspect', '--format', format, 'web']).trim();
  const nodeField = (node: string, format: string) => m.dockerOk(['node', 'inspect', '--format', format, node]).trim();
  const replicasCell = () => page.locator('#services tr[data-name="web"] td[data-col="replicas"]');

  before(async () => {
    port = await freePort();
    c = new TestCluster({ workers: 2, hostPrefix: 'dash', heartbeat: '1s', nodeArgs: (ip) => ['--dashboard-addr', `${ip}:${port}`] });
    await c.start();
    m = c.manager;
    m.dockerOk([
      'service', 'create', '--detach', '--name', 'web', '--replicas', '2', '--stop-grace-period', '1s', '--update-parallelism', '0', '--update-monitor', '300ms',
      '--rollback-parallelism', '0', '--rollback-monitor', '300ms',
      'busybox:latest', 'sh', '-c', 'i=0; while true; do echo "hello $i"; i=$((i+1)); sleep 0.5; done',
    ]);
    // a global service with a published port: the other mode and the ports column (a free port, not the
    // auto range's first, which another test's cluster on these loopback addresses may take at the same time)
    published = await freePort();
    m.dockerOk(['service', 'create', '--detach', '--name', 'edge', '--mode', 'global', '--publish', `${published}:80`, '--stop-grace-period', '1s', 'busybox:latest', 'sleep', '1000']);
    profile = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-dashboard-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await ctx?.close().catch(() => undefined);
    if (profile) fs.rmSync(profile, { recursive: true, force: true });
    await c?.cleanup();
  });

  test('the page lists the three nodes (leader, roles) and the service with its replicas', async () => {
    await page.goto(`http://${m.ip}:${port}/#nodes`);
    const rows = page.locator('#nodes tbody tr');
    await waitFor(async () => (await rows.count()) === 3, LONG, 'three node rows', 100);
    assert.deepEqual(await page.locator('#nodes tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: Record<string, string> }).dataset.hostname)), ['dash-0', 'dash-1', 'dash-2']);
    const leader = page.locator('#nodes tr[data-hostname="dash-0"]');
    assert.equal(await leader.locator('[data-col="manager"]').textContent(), 'Leader');
    assert.equal(await leader.locator('[data-col="role"]').textContent(), 'manager');
    assert.equal(await page.locator('#nodes tr[data-hostname="dash-1"] [data-col="role"]').textContent(), 'worker');
    await waitFor(async () => (await page.locator('#nodes [data-col="status"]').allTextContents()).every((s) => s === 'ready'), LONG, 'every node ready', 100);
    assert.equal(await page.locator('#conn').textContent(), 'live');

    await page.click('nav a[data-tab="services"]');
    await waitFor(async () => (await replicasCell().textContent()) === '2/2', LONG, 'web 2/2 on the page', 100);
    assert.equal(await page.locator('#services tr[data-name="web"] [data-col="mode"]').textContent(), 'replicated');
    assert.equal(await page.locator('#services tr[data-name="web"] [data-col="image"]').textContent(), 'busybox:latest');
    const edge = page.locator('#services tr[data-name="edge"]');
    await waitFor(async () => (await edge.locator('[data-col="replicas"]').textContent()) === '3/3', LONG, 'edge 3/3 (one per node)', 100);
    assert.equal(await edge.locator('[data-col="mode"]').textContent(), 'global');
    assert.equal(await edge.locator('[data-col="ports"]').textContent(), `*:${published}->80/tcp`);
    assert.equal(await edge.locator('button.scale').isVisible(), false, 'a global service cannot be scaled');
  });

  test('`docker service scale web=4` on the CLI shows on the page without a reload', async () => {
    // the page records when the cell first reads the new desired count (same machine, same clock)
    await page.evaluate(() => {
      const cell = document.querySelector('#services tr[data-name="web"] td[data-col="replicas"]');
      new MutationObserver(() => {
        if (window.seenAt === undefined && /\/4$/.test(cell.textContent ?? '')) window.seenAt = Date.now();
      }).observe(cell, { childList: true, characterData: true, subtree: true });
    });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const started = Date.now();
    m.dockerOk(['service', 'scale', '--detach', 'web=4']);
    const cliDone = Date.now();
    const seenAt = await waitFor(() => page.evaluate(() => window.seenAt), LONG, 'the page showing 4 desired', 20);
    console.log(`# dashboard: docker service scale → page shows it: ${seenAt - started} ms from the CLI's start, ${seenAt - cliDone} ms after the CLI returned`);
    assert.deepEqual(navigations, [], 'no reload or navigation');
    await waitFor(async () => (await replicasCell().textContent()) === '4/4', LONG, 'web 4/4 on the page', 100);
    // the tasks are spread over the three nodes, as the CLI sees them
    assert.equal(m.dockerOk(['service', 'ps', '-q', '--filter', 'desired-state=running', 'web']).trim().split('\n').length, 4);
  });

  test('the page’s scale button scales the service (checked with the docker CLI)', async () => {
    const input = page.locator('#services tr[data-name="web"] input.scale-input');
    await input.fill('3');
    await page.locator('#services tr[data-name="web"] button.scale').click();
    await waitFor(() => serviceField('{{.Spec.Mode.Replicated.Replicas}}') === '3', LONG, 'Replicas 3 in docker service inspect', 100);
    await waitFor(async () => (await replicasCell().textContent()) === '3/3', LONG, 'web 3/3 on the page', 100);
    assert.match((await page.locator('#toast').textContent()) ?? '', /web scaled to 3/);
  });

  test('the page’s drain and activate buttons change the node (checked with the docker CLI)', async () => {
    await page.click('nav a[data-tab="nodes"]');
    const row = page.locator('#nodes tr[data-hostname="dash-2"]');
    assert.equal(await row.locator('button.availability').textContent(), 'Drain');
    await row.locator('button.availability').click();
    await waitFor(() => nodeField('dash-2', '{{.Spec.Availability}}') === 'drain', LONG, 'dash-2 drained in docker node inspect', 100);
    await waitFor(async () => (await row.locator('[data-col="availability"]').textContent()) === 'drain', LONG, 'drain on the page', 100);
    // its tasks leave it: the page's task count for the node goes to 0 with the CLI's
    await waitFor(async () => (await row.locator('[data-col="tasks"]').textContent()) === '0', LONG, 'no task wanted on dash-2', 100);
    assert.equal(m.dockerOk(['node', 'ps', '-q', '--filter', 'desired-state=running', 'dash-2']).trim(), '');
    await screenshot('dashboard-nodes.png');
    assert.equal(await row.locator('button.availability').textContent(), 'Activate');
    await row.locator('button.availability').click();
    await waitFor(() => nodeField('dash-2', '{{.Spec.Availability}}') === 'active', LONG, 'dash-2 active again', 100);
  });

  test('the page’s rollback button rolls back an update (checked with the docker CLI)', async () => {
    m.dockerOk(['service', 'update', '--detach', '--env-add', 'COLOUR=blue', 'web']);
    await page.click('nav a[data-tab="services"]');
    const row = page.locator('#services tr[data-name="web"]');
    await waitFor(async () => (await row.locator('.update-state').textContent())?.startsWith('completed') ?? false, LONG, 'the update completed on the page', 100);
    await row.locator('button.rollback').click();
    await waitFor(() => serviceField('{{.Spec.TaskTemplate.ContainerSpec.Env}}') === '[]', LONG, 'COLOUR gone from the spec', 100);
    await waitFor(() => serviceField('{{.UpdateStatus.State}}') === 'rollback_completed', LONG, 'rollback completed (CLI)', 100);
    await waitFor(async () => (await row.locator('.update-state').textContent())?.startsWith('rollback completed') ?? false, LONG, 'rollback completed on the page', 100);
  });

  test('a service’s tasks with their history, and its logs following', async () => {
    const id = serviceField('{{.ID}}');
    await page.goto(`http://${m.ip}:${port}/#service/${id}`);
    await waitFor(async () => (await page.locator('#tasks-title').textContent()) === 'Service web', LONG, 'the service page', 100);
    // the update and the rollback replaced every task: history rows (\_ web.N) under the running ones
    await waitFor(async () => (await page.locator('#tasks tbody tr.history').count()) >= 3, LONG, 'history rows', 100);
    const names = await page.locator('#tasks tbody tr:not(.history) [data-col="name"]').allTextContents();
    assert.deepEqual(names, ['web.1', 'web.2', 'web.3']);
    // the current task of each slot is the one wanted running, wherever the slot moved to
    await waitFor(async () => (await page.locator('#tasks tbody tr:not(.history) [data-col="desired"]').allTextContents()).join() === 'Running,Running,Running', LONG, 'each slot’s current task wanted running', 100);
    await waitFor(async () => /hello \d+/.test((await page.locator('#logs').textContent()) ?? ''), LONG, 'log lines', 100);
    const before = (await page.locator('#logs span').count());
    await waitFor(async () => (await page.locator('#logs span').count()) > before, LONG, 'more log lines while following', 100);
    assert.match((await page.locator('#logs span').first().textContent()) ?? '', /^\d{4}-\d\d-\d\dT\S+ web\.\d@dash-\d \| hello \d+\n$/);
    await screenshot('dashboard-service.png');
  });

  test('the event stream shows the service’s changes', async () => {
    await page.click('nav a[data-tab="events"]');
    // the tab renders on the page's hashchange, and the history arrives on the page's event stream (the page was
    // loaded anew by the previous test): both after the click returns, as every other view here is waited for
    const events = async () => (await page.locator('#events').textContent()) ?? '';
    await waitFor(async () => /service create web/.test(await events()), LONG, 'the service’s events on the page', 100);
    const text = await events();
    assert.match(text, /service create web/);
    assert.match(text, /service update web \(replicas\.old=2, replicas\.new=4\)/);
    assert.match(text, /node update dash-2 \(availability\.old=active, availability\.new=drain\)/);
  });

  test('desktop screenshot; a 390 px phone-width render without horizontal scrolling', async () => {
    await page.click('nav a[data-tab="services"]');
    await waitFor(async () => (await replicasCell().textContent()) === '3/3', LONG, 'web 3/3', 100);
    const desktop = await screenshot('dashboard.png');
    if (process.env.UPDATE_GOLDEN === '1') fs.copyFileSync(desktop, path.join(ROOT, 'docs', 'dashboard.png'));
    await page.setViewportSize({ width: 390, height: 844 });
    // The page renders a tab on the hash change, a task after the click: measure once its view shows.
    const showTab = async (tab: string) => {
      await page.click(`nav a[data-tab="${tab}"]`);
      await page.locator(`#view-${tab}`).waitFor({ state: 'visible', timeout: LONG });
    };
    for (const tab of ['services', 'nodes', 'tasks', 'events']) {
      await showTab(tab);
      const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      assert.ok(scroll <= client, `${tab}: page ${scroll}px wide in a ${client}px viewport`);
    }
    await showTab('services');
    // the rows are cards: the table header is hidden and each cell carries its label
    assert.equal(await page.locator('#services thead').isVisible(), false);
    assert.equal(await page.locator('#services tr[data-name="web"] button.scale').isVisible(), true);
    const box = await page.locator('#services tr[data-name="web"]').boundingBox();
    assert.ok(box && box.width <= 390, `a service card fits the phone (${box?.width}px)`);
    await screenshot('dashboard-phone.png');
  });

  async function screenshot(name: string): Promise<string> {
    const file = path.join(ARTIFACTS, name);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }
});
