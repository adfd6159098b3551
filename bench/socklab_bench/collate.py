"""The rounds made into results: the representative (median) round of
each run, the floors each one-session run is compared with, the ranking
with ties and the comparison with the previous run."""

import os

import rank

from .conf import REPO, log
from .digest import figure, lg_summary, run_file, write_json


class Collate:
    """Bench's half that reads what the rounds measured."""

    def ranked_targets(self):
        """What the ranking compares: the models and any external server;
        redis-server and the floors are references."""
        return [t for t in self.models + list(self.externals)]

    def rank_rounds(self, load):
        """{target: [figure per round]} at one load: requests/s, or bytes/s
        for a bulk load."""
        ranked = set(self.ranked_targets())
        out = {}
        for j in self.all_runs:
            b = j["bench"]
            if b["label"] == load and b["target"] in ranked:
                out.setdefault(b["target"], []).append(figure(j))
        return out

    def write_ranking(self):
        """ranking.csv, and the comparison with the previous run."""
        by_load = {lab: self.rank_rounds(lab) for lab in self.loads}
        rows = rank.ranking_rows(by_load, self.loads)
        rank.write_ranking(os.path.join(self.out, "ranking.csv"), rows)
        self.ranking = {}
        for r in rows:
            self.ranking.setdefault(r["load"], {})[r["model"]] = r
        self.comparison = None
        if self.previous:
            name, prev = self.previous
            now = {lab: {m: (r["low"], r["median"], r["high"])
                         for m, r in ms.items()}
                   for lab, ms in self.ranking.items()}
            cmp = rank.compare(prev, now, self.loads)
            lines, nrev = rank.compare_text(cmp, name, "this run")
            self.comparison = (name, lines, nrev)
            log("bench: compared with the previous run:")
            for line in lines:
                log("  " + line)

    def find_previous(self):
        """The previous run's ranking, read before this run replaces
        anything: the one in this run's own directory (a rerun on the same
        day) or else the newest ranking.csv of a sibling directory."""
        own = rank.ranking_path(self.out)
        cands = []
        if os.path.exists(own):
            cands.append(own)
        else:
            parent = os.path.dirname(os.path.abspath(self.out))
            try:
                sib = [os.path.join(parent, d) for d in os.listdir(parent)]
            except OSError:
                sib = []
            sib = [rank.ranking_path(d) for d in sib
                   if os.path.exists(rank.ranking_path(d))]
            cands += sorted(sib, key=os.path.getmtime, reverse=True)[:1]
        for p in cands:
            try:
                return (os.path.relpath(os.path.dirname(p), REPO)
                        if os.path.abspath(p).startswith(REPO + "/")
                        else os.path.dirname(p), rank.read_ranking(p))
            except (OSError, KeyError, ValueError) as e:
                self.notes.append("previous ranking %s unreadable: %s"
                                  % (p, e))
        return None

    def pick_representatives(self):
        """Every (target, run) was measured once per round; the tables
        and plots show the round with the median throughput, so that a
        burst of load from elsewhere on the machine, which hits one
        round, moves no figure.  The spread of the rounds is kept."""
        groups = {}
        for j in self.all_runs:
            b = j["bench"]
            groups.setdefault((b["target"], b["label"]), []).append(j)
        self.runs = []
        for js in groups.values():
            js.sort(key=lambda j: lg_summary(j)["rps"] or 0)
            rep_j = js[(len(js) - 1) // 2]
            rps = [lg_summary(j)["rps"] or 0 for j in js]
            for j in js:
                j["bench"]["representative"] = j is rep_j
            rep_j["bench"]["rounds"] = {
                "rps": rps, "files": [run_file(j) for j in js]}
            if rep_j["bench"].get("server_mem") is None:
                # Memory does not move with the machine's load the way
                # throughput does: another round's sample will do.
                for j in js:
                    if j["bench"].get("server_mem"):
                        rep_j["bench"]["server_mem"] = j["bench"][
                            "server_mem"]
                        rep_j["bench"]["server_mem_from"] = run_file(j)
                        break
            self.runs.append(rep_j)
        # Keep the order of the first round.
        order = {id(j): i for i, j in enumerate(self.all_runs)}
        self.runs.sort(key=lambda j: min(
            order[id(x)] for x in groups[(j["bench"]["target"],
                                          j["bench"]["label"])]))

    def rewrite_runs(self):
        """The runs' JSON again, now with floors and rounds merged in."""
        for j in self.all_runs:
            write_json(os.path.join(self.out, "runs", run_file(j)), j)


    def attach_floors(self):
        """Give each one-session run the mean of the floors measured just
        before and just after it."""
        for j in self.all_runs:
            i = j["bench"].get("floor_before")
            if i is None:
                continue
            pair = [f for f in self.floors[i:i + 2] if f]
            if not pair:
                continue
            j["bench"]["floor"] = {
                "files": [f["file"] for f in pair],
                "p50_us": sum(f["latency_us"]["p50"] for f in pair) /
                len(pair),
                "rps": sum(f["rps"] for f in pair) / len(pair)}
            lg = [f for f in self.lfloors[i:i + 2]
                  if f and lg_summary(f)["p50_us"]]
            if lg:
                j["bench"]["floor"]["loadgen_files"] = [run_file(f)
                                                        for f in lg]
                j["bench"]["floor"]["loadgen_p50_us"] = sum(
                    lg_summary(f)["p50_us"] for f in lg) / len(lg)
                j["bench"]["floor"]["loadgen_rps"] = sum(
                    lg_summary(f)["rps"] for f in lg) / len(lg)

