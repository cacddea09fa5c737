"""Offline feasibility check for issue 9 (not part of the product; needs scikit-learn).

Built into the product in the seventeenth session as the urgency check (src/matcher/urgency.rs,
intents/urgency/): the same features and model, trained at load in Rust, with a threshold from
the urgent examples a rule fires on and no veto where someone has the sign or it is now. Its
training lines are the read sets this script trains on, so its numbers are README's, not these.

Can a text classifier trained on the emergency / no-symptom sets already read veto faqbot's
false 112s on sets nobody read (pairs 45 and 46, no_symptom55) without losing a true one? The
veto only ever applies where an emergency rule fired; it never adds a 112.

    cargo build --release && pip install scikit-learn && BIN=target/release/faqbot C=4 \
        python3 tools/experiments/emergency_veto.py

Sixteenth session, at 8897be3 (TF-IDF char 3-5 + word 1-2 grams, logistic regression,
cross-validated by file family on the read sets; "lost" = a true emergency vetoed):
  C=4: CV t=0.02 vetoes 26/103 false, loses 0/3851; unseen at t=0.02: 5/30 false, 0/151 lost;
       at t=0.05 (CV loses 2): unseen 11/30, 0 lost; at t=0.1 (CV loses 9): 18/30, 0 lost.
  C=1: CV t=0.05 vetoes 22/103, loses 0; unseen 4/30, 0 lost.
With pair 47 and no_symptom56 (written after, never read) among the unseen sets too:
  C=4: unseen at t=0.02 (CV loses 0): 23/63 false vetoed, 0/230 true lost; t=0.05: 34/63, 0 lost.
  C=1: unseen at t=0.05 (CV loses 0): 19/63, 0 lost.
"""
import json,subprocess,os,re,glob,sys
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict, GroupKFold
from scipy.sparse import hstack
ROOT=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
D=os.path.join(ROOT,'tests/data')
B=os.path.abspath(os.environ.get('BIN','target/release/faqbot'))
# Sets nobody has read (never trained on): emergency pairs and no-symptom files, by number.
UNSEEN=set(os.environ.get('UNSEEN','45,46,47').split(',')); UNSEEN_NS=set(os.environ.get('UNSEEN_NS','55,56').split(','))
def lines(f): return [l.rstrip('\n') for l in open(f'{D}/{f}') if l.strip()]
def kinds(qs):
    out=subprocess.run([B,'ask','--json'],input='\n'.join(qs)+'\n',capture_output=True,text=True,cwd=ROOT).stdout.splitlines()
    return [json.loads(o)['kind'] for o in out]
train=[];test=[]
for f in sorted(os.listdir(D)):
    m=re.match(r'heldout_(not_)?emergencies(\d*)\.txt$',f); n=re.match(r'no_symptom(\d+)\.txt$',f)
    if m: lab=0 if m.group(1) else 1; key=m.group(2) or '1'; unseen=key in UNSEEN
    elif n: lab=0; key='ns'+n.group(1); unseen=n.group(1) in UNSEEN_NS
    elif f in('probe_emergencies.txt','probe_not_emergencies.txt'): lab=int(f=='probe_emergencies.txt'); key='probe'; unseen=False
    else: continue
    for q in lines(f): (test if unseen else train).append((q,lab,key))
qs=[q for q,_,_ in train]+[q for q,_,_ in test]
k=kinds(qs); ktr=k[:len(train)]; kte=k[len(train):]
# Only where a rule fired: the veto never adds a 112.
tr=[(q,l,g) for (q,l,g),kk in zip(train,ktr) if kk=='emergency']
te=[(q,l,g) for (q,l,g),kk in zip(test,kte) if kk=='emergency']
print('train fired:',len(tr),'true',sum(l for _,l,_ in tr),'false',sum(1-l for _,l,_ in tr))
print('unseen fired:',len(te),'true',sum(l for _,l,_ in te),'false',sum(1-l for _,l,_ in te))
# Train on ALL read lines (fired or not: more negatives), char + word n-grams.
X_text=[q.lower() for q,_,_ in train]; y=np.array([l for _,l,_ in train]); groups=[g for _,_,g in train]
cv=TfidfVectorizer(analyzer='char_wb',ngram_range=(3,5),min_df=2,sublinear_tf=True)
wv=TfidfVectorizer(analyzer='word',ngram_range=(1,2),min_df=2,sublinear_tf=True)
X=hstack([cv.fit_transform(X_text),wv.fit_transform(X_text)]).tocsr()
clf=LogisticRegression(C=float(os.environ.get("C","4")),max_iter=2000,class_weight='balanced')
# Cross-validated probabilities, grouped by file family, to choose the veto threshold.
p=cross_val_predict(clf,X,y,cv=GroupKFold(5),groups=groups,method='predict_proba')[:,1]
fired=np.array([kk=='emergency' for kk in ktr])
for t in [0.02,0.05,0.1,0.15,0.2,0.3]:
    veto=(p<t)&fired
    print(f'CV t={t}: vetoes false {int((veto&(y==0)).sum())}/{int((fired&(y==0)).sum())}, true lost {int((veto&(y==1)).sum())}/{int((fired&(y==1)).sum())}')
clf.fit(X,y)
Xt=[q.lower() for q,_,_ in te]; pt=clf.predict_proba(hstack([cv.transform(Xt),wv.transform(Xt)]).tocsr())[:,1]
yt=np.array([l for _,l,_ in te])
for t in [0.02,0.05,0.1,0.15,0.2,0.3]:
    veto=pt<t
    print(f'UNSEEN t={t}: vetoes false {int((veto&(yt==0)).sum())}/{int((yt==0).sum())}, true lost {int((veto&(yt==1)).sum())}/{int((yt==1).sum())}')
