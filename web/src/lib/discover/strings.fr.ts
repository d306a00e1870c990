import type en from "./strings.en";

const fr: typeof en = {
  search: {
    title: "Recherche", box: "Rechercher des vidéos, créateurs et hashtags", submit: "Rechercher", clear: "Vider le champ",
    suggestions: "Suggestions", recent: "Recherches récentes", clearRecent: "Tout effacer",
    forget: "Retirer {{text}} des recherches récentes", results: "Résultats", none: "Rien trouvé pour « {{q}} ».",
    more: "Voir plus", loading: "Recherche…", discover: "Découvrir les tendances",
    types: { all: "Top", clips: "Vidéos", creators: "Créateurs", hashtags: "Hashtags" },
    clips_one: "{{count}} vidéo", clips_other: "{{count}} vidéos",
    kinds: { handle: "Créateur", hashtag: "Hashtag", query: "Recherche" },
    remote: {
      title: "Compte d'un autre serveur", from: "De {{server}}", looking: "Recherche de {{account}}…",
      signIn: "Connectez-vous pour trouver des comptes d'autres serveurs.",
      notFound: "Aucun compte {{account}} trouvé. Vérifiez l'adresse ; son serveur est peut-être aussi en panne ou ne répond pas.",
      unusable: "{{server}} a répondu, mais pas avec un compte qu'on peut suivre d'ici.",
      refused: "Ce serveur ne se connecte pas à {{server}}.", retry: "Réessayer",
      blockServer: "Bloquer le serveur {{server}}", unblockServer: "Débloquer le serveur {{server}}",
      blockServerAsk: "Bloquer tout le monde sur {{server}} ?",
      blockServerExplain: "Vous ne verrez plus leurs vidéos, commentaires ni notifications, et ils ne verront plus les vôtres. Les abonnements entre vous prennent fin, et personne là-bas ne pourra s'abonner à vous.",
      blockServerConfirm: "Bloquer le serveur", cancel: "Annuler",
      serverBlocked: "Vous bloquez {{server}} : personne là-bas ne vous voit, et vous ne voyez rien de ce qui en vient.",
      manage: "Serveurs bloqués, dans les Réglages", blocked: "{{server}} est bloqué.", unblocked: "{{server}} est débloqué.",
    },
  },
  hashtag: {
    views_one: "{{formatted}} vue", views_other: "{{formatted}} vues",
    following: "Suivi", followLabel: "Suivre", top: "Populaires", newest: "Récentes", related: "Hashtags associés",
    missing: "Aucune vidéo avec #{{tag}} pour l'instant.", tabs: "Vidéos du hashtag",
  },
  discover: {
    title: "Découvrir", trending: "Hashtags tendance", creators: "Créateurs tendance", newCreators: "Nouveaux créateurs",
    empty: "Rien à découvrir pour l'instant. Revenez quand quelques vidéos seront en ligne.",
  },
  filters: {
    title: "Mots et hashtags masqués",
    explain: "Les vidéos et commentaires contenant ces mots ou hashtags n'apparaissent plus dans vos fils, la recherche et les pages de hashtags.",
    kind: "Type", word: "Mot ou expression", hashtag: "Hashtag", value: "Mot, expression ou #hashtag à masquer", add: "Masquer",
    remove: "Ne plus masquer {{value}}", none: "Rien n'est masqué.", signIn: "Connectez-vous pour masquer des mots et hashtags.",
  },
  mutedComment: { label: "Filtré : contient un de vos mots masqués", show: "Afficher" },
};

export default fr;
