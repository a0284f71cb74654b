import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const K8S = fileURLToPath(new URL('../../../k8s/', import.meta.url));

type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: unknown };

/** The model class of an object, from the Kubernetes and KEDA schemas (kubernetes-models). */
async function modelOf(m: Manifest): Promise<new (data: unknown) => { validate(): void }> {
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
  const module =
    group === 'keda.sh'
      ? await import(`@kubernetes-models/keda/keda.sh/${version}`)
      : await import(group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`);
  const model = module[m.kind];
  if (!model) throw new Error(`no schema for ${m.apiVersion} ${m.kind}`);
  return model;
}

async function validate(m: Manifest): Promise<void> {
  const Model = await modelOf(m);
  new Model(m).validate();
}

/** `kubectl kustomize k8s/` (kubectl from Debian's package; see .ci/run). */
function render(): Manifest[] {
  const out = execFileSync('kubectl', ['kustomize', K8S], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJSON() as Manifest);
}

describe('k8s/: the kustomize render, validated offline against its schemas', () => {
  const objects = render();
  const of = (kind: string) => objects.filter((o) => o.kind === kind);

  it('every object validates against its Kubernetes or KEDA schema', async () => {
    expect(objects.length).toBeGreaterThan(20);
    for (const o of objects)
      await expect(validate(o), `${o.kind}/${o.metadata.name}`).resolves.toBeUndefined();
  });

  it('refuses an invalid object (the validation can fail)', async () => {
    const deployment = structuredClone(of('Deployment')[0]!) as any;
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'three thousand';
    await expect(validate(deployment)).rejects.toThrow();
    const scaled = structuredClone(of('ScaledObject')[0]!) as any;
    delete scaled.spec.scaleTargetRef;
    await expect(validate(scaled)).rejects.toThrow();
  });

  it('pins images, locks the root filesystem, budgets disruptions, scales queue workers on lag', () => {
    const deployments = of('Deployment');
    expect(deployments.length).toBeGreaterThanOrEqual(6);
    const pods = [...deployments, ...of('Job')].map((o: any) => o.spec.template.spec);
    for (const pod of pods)
      for (const c of pod.containers) expect(c.image, c.name).toMatch(/:\d+\.\d+\.\d+$/);
    for (const d of deployments as any[]) {
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      expect(c.securityContext.readOnlyRootFilesystem, d.metadata.name).toBe(true);
      expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      expect(pod.volumes.find((v: any) => v.name === 'tmp')?.emptyDir).toBeDefined();
      expect(
        of('PodDisruptionBudget').map((p) => p.metadata.name),
        'a PDB',
      ).toContain(d.metadata.name);
    }
    const scaled = of('ScaledObject') as any[];
    const hpas = of('HorizontalPodAutoscaler') as any[];
    for (const s of ['analysis-service', 'storage-service', 'notification-service']) {
      const so = scaled.find((x) => x.spec.scaleTargetRef.name === s);
      expect(so?.spec.triggers[0].type, s).toBe('nats-jetstream');
      expect(so.spec.minReplicaCount).toBe(1);
      expect(Number(so.spec.triggers[0].metadata.lagThreshold)).toBeGreaterThan(0);
      // KEDA makes its own HPA: a second one would fight it.
      expect(hpas.map((h) => h.spec.scaleTargetRef.name)).not.toContain(s);
    }
    expect(hpas.map((h) => h.spec.scaleTargetRef.name)).toEqual(
      expect.arrayContaining(['gateway', 'chart-service', 'quota-service']),
    );
  });

  it('denies by default; the Ingress does not route /metrics', () => {
    const policies = of('NetworkPolicy') as any[];
    const deny = policies.find((p) => p.metadata.name === 'default-deny');
    expect(deny.spec.podSelector).toEqual({});
    expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const paths = (of('Ingress') as any[]).flatMap((i) => i.spec.rules.flatMap((r: any) => r.http.paths));
    for (const p of paths) expect('/metrics'.startsWith(p.path), p.path).toBe(false);
  });
});

describe('k8s/monitoring', () => {
  it('the alert rules pass promtool check rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', `${K8S}monitoring/alerts.yaml`], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('the dashboard is Grafana JSON with Prometheus queries', () => {
    const dashboard = JSON.parse(readFileSync(`${K8S}monitoring/grafana-dashboard.json`, 'utf8'));
    const exprs = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr as string));
    expect(exprs.length).toBeGreaterThan(10);
    // Each query parses: promtool checks it as a recording rule's expression.
    const rules = `groups:\n  - name: dashboard\n    rules:\n${exprs
      .map((e: string, i: number) => `      - record: dashboard:q${i}\n        expr: ${JSON.stringify(e)}\n`)
      .join('')}`;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cw-dashboard-')), 'dashboard-rules.yaml');
    writeFileSync(file, rules);
    const out = execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    rmSync(path.dirname(file), { recursive: true, force: true });
    expect(out).toMatch(/SUCCESS/);
  });
});
