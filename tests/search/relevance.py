"""The relevance set: a synthetic catalogue (creators, captions, hashtags, several languages)
and graded queries over it, with nDCG@10 and MRR.

Grades: 2 = what the query is looking for, 1 = a fair answer. The catalogue's target clips are
named by key; ``FILLER`` clips share everyday words with them (home, first, day, tutorial...)
so a query has to tell them apart. Categories: exact, typo, prefix, hashtag, handle, multi,
phrase, paraphrase (meaning without the words: lexical search is expected to miss most),
foreign (Spanish, French, German captions; accents folded)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

CREATORS: dict[str, tuple[str, str | None]] = {  # handle -> (display name, language)
    "mochi_the_cat": ("Mochi the Cat", "en"), "chef_lucia": ("Lucia Cocina", "es"),
    "skate_daily": ("Skate Daily", "en"), "trailrunner_jo": ("Jo Runs", "en"), "guitar_gabe": ("Gabe", "en"),
    "le_petit_boulanger": ("Le Petit Boulanger", "fr"), "berliner_baecker": ("Berliner Bäcker", "de"),
    "garden_gnome_grows": ("Garden Gnome", "en"), "tech_tinkerer": ("Tinkerer", "en"),
    "dance_crew_ny": ("Dance Crew NY", "en"), "fitness_fiona": ("Fiona Fit", "en"),
    "wander_tomo": ("Tomo Travels", "en"), "maker_mel": ("Mel Makes", "en"), "home_barista": ("Barista", "en"),
    "pet_parade": ("Pet Parade", "en"), "curious_mind": ("Curious Mind", "en"), "glow_studio": ("Glow", "en"),
}

# key -> (creator, caption, hashtags)
CLIPS: dict[str, tuple[str, str, list[str]]] = {
    "cat_table_fall": ("mochi_the_cat", "Mochi tried to jump on the counter and missed completely", ["fail", "kitty"]),
    "cat_box": ("mochi_the_cat", "Mochi fits in a tiny cardboard box", ["kitty", "catsoftiktok"]),
    "cat_laser": ("mochi_the_cat", "chasing the red laser dot for ten minutes", ["kitty", "playtime"]),
    "dog_beach": ("pet_parade", "golden retriever sees the ocean for the first time", ["dogs", "beach"]),
    "dog_trick": ("pet_parade", "teaching my puppy to roll over", ["dogs", "training"]),
    "parrot": ("pet_parade", "parrot sings happy birthday", ["parrot", "birds"]),
    "baby_laugh": ("pet_parade", "baby laughing at the dog's sneeze", ["baby", "funny"]),
    "paella": ("chef_lucia", "Paella valenciana tradicional con mariscos", ["paella", "cocinaespañola"]),
    "tortilla": ("chef_lucia", "Cómo hacer tortilla de patatas perfecta", ["tortilla", "recetas"]),
    "croissant": ("le_petit_boulanger", "Croissants au beurre faits maison", ["boulangerie", "croissant"]),
    "baguette": ("le_petit_boulanger", "La baguette tradition, pétrissage et cuisson", ["pain", "boulangerie"]),
    "brezel": ("berliner_baecker", "Laugenbrezeln backen wie in Bayern", ["backen", "brezel"]),
    "sourdough": ("maker_mel", "my sourdough starter finally doubled overnight", ["sourdough", "baking"]),
    "carbonara": ("chef_lucia", "authentic carbonara with guanciale and pecorino, no cream", ["pasta", "italianfood"]),
    "ramen": ("home_barista", "spicy miso ramen at home in 20 minutes", ["ramen", "noodles"]),
    "kickflip": ("skate_daily", "landing my first kickflip after two months", ["skateboarding", "kickflip"]),
    "skate_fail": ("skate_daily", "slammed hard on the handrail, ouch", ["skateboarding", "fail"]),
    "trail_run": ("trailrunner_jo", "sunrise trail run up the mountain ridge", ["trailrunning", "mountains"]),
    "marathon": ("trailrunner_jo", "marathon training week 12 long run recap", ["marathon", "running"]),
    "guitar_solo": ("guitar_gabe", "fingerstyle guitar cover of a classic rock ballad", ["guitar", "cover"]),
    "guitar_lesson": ("guitar_gabe", "beginner guitar lesson: your first three chords", ["guitar", "lesson"]),
    "piano": ("guitar_gabe", "learning piano at 40, day 100", ["piano", "learning"]),
    "tomato": ("garden_gnome_grows", "growing tomatoes on a small balcony", ["gardening", "tomatoes"]),
    "compost": ("garden_gnome_grows", "how to start composting in an apartment", ["gardening", "compost"]),
    "succulent": ("garden_gnome_grows", "propagating succulents from leaves", ["succulents", "plants"]),
    "keyboard": ("tech_tinkerer", "building a custom mechanical keyboard with lubed switches",
                 ["mechanicalkeyboard", "diy"]),
    "raspberry": ("tech_tinkerer", "raspberry pi home server setup walkthrough", ["raspberrypi", "homelab"]),
    "drone": ("tech_tinkerer", "fpv drone diving a waterfall", ["drone", "fpv"]),
    "hiphop": ("dance_crew_ny", "hip hop choreography in Central Park", ["dance", "hiphop"]),
    "salsa": ("dance_crew_ny", "salsa basic steps for beginners", ["salsa", "dance"]),
    "yoga": ("fitness_fiona", "ten minute morning yoga stretch for stiff backs", ["yoga", "stretching"]),
    "hiit": ("fitness_fiona", "20 minute HIIT workout, no equipment", ["hiit", "workout"]),
    "squat": ("fitness_fiona", "fix your squat form with this cue", ["fitness", "squats"]),
    "tokyo": ("wander_tomo", "night walk through Shinjuku neon streets", ["tokyo", "japan"]),
    "lisbon": ("wander_tomo", "tram 28 ride through Lisbon old town", ["lisbon", "travel"]),
    "iceland": ("wander_tomo", "black sand beach and basalt columns in Iceland", ["iceland", "travel"]),
    "shelf": ("maker_mel", "building floating shelves from reclaimed wood", ["woodworking", "diy"]),
    "bike": ("maker_mel", "fixing a flat bicycle tire on the road", ["bicycle", "repair"]),
    "latte": ("home_barista", "latte art heart pour tutorial", ["coffee", "latteart"]),
    "negroni": ("home_barista", "classic negroni in three ingredients", ["cocktails", "negroni"]),
    "magic": ("curious_mind", "coin vanish magic trick revealed", ["magic", "tutorial"]),
    "chess": ("curious_mind", "the fried liver attack chess opening explained", ["chess", "openings"]),
    "math": ("curious_mind", "visual proof of the pythagorean theorem", ["math", "geometry"]),
    "space": ("curious_mind", "watching the ISS pass overhead tonight", ["space", "astronomy"]),
    "fishing": ("trailrunner_jo", "fly fishing for trout in a mountain stream", ["fishing", "trout"]),
    "makeup": ("glow_studio", "five minute natural makeup look", ["makeup", "beauty"]),
    "nails": ("glow_studio", "chrome nail art at home", ["nails", "nailart"]),
    "car_wash": ("maker_mel", "detailing a very dirty car interior", ["cardetailing", "satisfying"]),
    "slime": ("glow_studio", "crunchy slime ASMR", ["slime", "asmr", "satisfying"]),
    "origami": ("curious_mind", "folding an origami crane step by step", ["origami", "paper"]),
}

FILLER_TEXT = ("home first day tutorial my the a with easy quick new best week life vlog friends morning night "
               "routine city weekend trip family simple real today update story part look small big")
FILLER_WORDS = FILLER_TEXT.split(" ")
FILLER_TAGS = ["vlog", "daily", "fyp", "life", "weekend", "friends"]
HANDLE_QUERIED = {"mochi_the_cat", "chef_lucia", "le_petit_boulanger", "fitness_fiona"}


def filler(count: int = 250, seed: int = 17) -> list[tuple[str, str, list[str]]]:
    """Everyday clips of every creator: noise that shares common words with the targets."""
    rng = random.Random(seed)
    # Not of the creators a handle query names: every clip of theirs would be a right answer.
    handles = sorted(set(CREATORS) - HANDLE_QUERIED)
    return [(rng.choice(handles), " ".join(rng.sample(FILLER_WORDS, rng.randint(4, 8))), rng.sample(FILLER_TAGS, 2))
            for _ in range(count)]


@dataclass(frozen=True)
class Judged:
    query: str
    category: str
    grades: dict[str, int]


def _q(category: str, query: str, **grades: int) -> Judged:
    return Judged(query, category, grades)


CATS = {"cat_table_fall": 2, "cat_box": 2, "cat_laser": 2}
QUERIES: list[Judged] = [
    _q("exact", "kickflip", kickflip=2), _q("exact", "carbonara", carbonara=2), _q("exact", "origami", origami=2),
    _q("exact", "negroni", negroni=2), _q("exact", "ramen", ramen=2), _q("exact", "composting", compost=2),
    _q("exact", "succulents", succulent=2), _q("exact", "latte art", latte=2), _q("exact", "sourdough", sourdough=2),
    _q("exact", "guitar", guitar_solo=2, guitar_lesson=2),
    _q("typo", "kikflip", kickflip=2), _q("typo", "carbonra", carbonara=2), _q("typo", "origmai", origami=2),
    _q("typo", "negorni", negroni=2), _q("typo", "sourdogh", sourdough=2), _q("typo", "guitr lesson", guitar_lesson=2,
                                                                                guitar_solo=1),
    _q("typo", "tomatos", tomato=2), _q("typo", "mechanical keybaord", keyboard=2),
    _q("typo", "pythagorian theorem", math=2), _q("typo", "astronmy", space=2),
    _q("typo", "skatebording", kickflip=2, skate_fail=2), _q("typo", "choreografy", hiphop=2),
    _q("prefix", "kickf", kickflip=2), _q("prefix", "origa", origami=2), _q("prefix", "carbon", carbonara=2),
    _q("prefix", "succul", succulent=2), _q("prefix", "mechanical keyb", keyboard=2),
    _q("prefix", "raspberry p", raspberry=2), _q("prefix", "latte a", latte=2), _q("prefix", "choreo", hiphop=2),
    _q("hashtag", "#fail", cat_table_fall=2, skate_fail=2), _q("hashtag", "#kitty", **CATS),
    _q("hashtag", "#gardening", tomato=2, compost=2), _q("hashtag", "#boulangerie", croissant=2, baguette=2),
    _q("hashtag", "#satisfying", car_wash=2, slime=2), _q("hashtag", "#dance", hiphop=2, salsa=2),
    _q("hashtag", "#travel", lisbon=2, iceland=2), _q("hashtag", "#diy", keyboard=2, shelf=2),
    _q("handle", "@mochi_the_cat", **CATS), _q("handle", "@chef_lucia", paella=2, tortilla=2, carbonara=2),
    _q("handle", "@le_petit_boulanger", croissant=2, baguette=2),
    _q("handle", "@fitness_fiona", hiit=2, squat=2, yoga=2), _q("handle", "mochi", **CATS),
    _q("multi", "miso ramen at home", ramen=2), _q("multi", "morning yoga stretch", yoga=2),
    _q("multi", "flat bicycle tire", bike=2), _q("multi", "fly fishing trout", fishing=2),
    _q("multi", "floating shelves wood", shelf=2), _q("multi", "neon streets tokyo", tokyo=2),
    _q("multi", "black sand beach", iceland=2, dog_beach=1), _q("multi", "first three chords guitar", guitar_lesson=2),
    _q("phrase", '"red laser dot"', cat_laser=2), _q("phrase", '"happy birthday"', parrot=2),
    _q("phrase", '"no cream" carbonara', carbonara=2),
    _q("paraphrase", "cat falls off table", cat_table_fall=2, cat_box=1, cat_laser=1),
    _q("paraphrase", "playing music on strings", guitar_solo=2, guitar_lesson=2),
    _q("paraphrase", "space station flying over", space=2), _q("paraphrase", "infant giggles", baby_laugh=2),
    _q("paraphrase", "bird singing a song", parrot=2), _q("paraphrase", "japanese noodle soup", ramen=2),
    _q("paraphrase", "exercise without a gym", hiit=2, squat=1, yoga=1),
    _q("paraphrase", "vegetables on a terrace", tomato=2, compost=1),
    _q("foreign", "paella mariscos", paella=2), _q("foreign", "tortilla patatas", tortilla=2),
    _q("foreign", "croissants beurre", croissant=2), _q("foreign", "pétrissage", baguette=2),
    _q("foreign", "petrissage", baguette=2), _q("foreign", "brezeln backen", brezel=2),
    _q("foreign", "cocina", paella=2, tortilla=1),
]


def ndcg_at_10(ranked: list[str], grades: dict[str, int]) -> float:
    gains = [2 ** grades.get(key, 0) - 1 for key in ranked[:10]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted((2 ** g - 1 for g in grades.values()), reverse=True)[:10]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / best if best else 0.0


def reciprocal_rank(ranked: list[str], grades: dict[str, int]) -> float:
    for i, key in enumerate(ranked[:10]):
        if grades.get(key, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0
