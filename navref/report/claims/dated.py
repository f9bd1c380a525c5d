"""When the criteria of claims 9-11 were fixed (issue 15, item 7), stated in each criterion."""

#: main's commit when the criteria of claims 9-11 were written
FIXED_AT_COMMIT = "7cbebb0"
FIXED = (
    f"Criterion fixed 2026-11-29 at commit {FIXED_AT_COMMIT} (main), before any run judged it "
    "(issue 15, item 7); written without looking at earlier runs' intermediate, unseen or "
    "oracle-trained loss tables (the README's claims table had been seen: claim 3's CFM "
    "oracle-loss numbers and the default digits_vae split, about 0.36)."
)
